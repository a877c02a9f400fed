# Unambiguous, to the second, with the zone: what an investigator compares footage times with
# (Django's English default, "Nov. 24, 2026, 10:17 a.m.", hides the seconds).
DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
