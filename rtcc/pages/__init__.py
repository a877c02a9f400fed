"""The console's pages: fleet map, box page, where and when, alerts, enrolment (docs/rtcc.md).

They read the console's own tables only (never MongoDB on a request), each in a bounded number
of queries whatever the fleet's size, and say how fresh those tables are.
"""
