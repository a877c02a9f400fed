"""The console's pages: fleet map, box page, where and when, alerts, enrolment (docs/rtcc.md),
clips on request (docs/retrieval.md).

They read the console's own tables only (never MongoDB), each in a bounded number of queries
whatever the fleet's size, and say how fresh those tables are. Sending a clip request or its
cancellation is the one thing a page writes to the ledger; with the ledger down it says so.
"""
