"""The RTCC console: the datacenter's side of replication (docs/rtcc.md).

A separate deployable from this checkout: `DJANGO_SETTINGS_MODULE=rtcc.settings`. It reads the
boxes' insert-only MongoDB ledger (rtcc/ledger.py; rtcc/retrieval_mongo.py writes the clip
requests, the console's only other module that imports pymongo), checks every document
(rtcc/trust.py) and keeps read models in its own SQL database.
"""
