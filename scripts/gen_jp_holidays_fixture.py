#!/usr/bin/env python3
"""Generates tests/fixtures/jp_holidays_2020_2035.csv, the oracle for src/calendar/holidays.rs.

How the fixture was made:
    pip install jpholiday holidays
    python3 scripts/gen_jp_holidays_fixture.py > tests/fixtures/jp_holidays_2020_2035.csv

Both PyPI packages are independent implementations of the Japanese holiday law. The script
fails when they disagree on any date, so the committed fixture is the set both agree on; the
name column is jpholiday's (Japanese).
"""
import datetime
import sys

import holidays
import jpholiday

rows = []
for year in range(2020, 2036):
    a = {d: n for d, n in jpholiday.year_holidays(year)}
    b = set(holidays.Japan(years=year).keys())
    if set(a) != b:
        sys.exit(f"oracles disagree in {year}: {sorted(set(a) ^ b)}")
    rows.extend(sorted(a.items()))

print("date,name")
for d, n in rows:
    print(f"{d.isoformat()},{n}")
