"""Ids are 32-bit integers on PostgreSQL; larger numbers can name nothing."""

MAX_ID = 2**31 - 1
