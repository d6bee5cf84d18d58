"""The ticket domain: Znuny's rules for tickets and articles, inside the caller's transaction.

The operations validate first (with Znuny's error codes), then call these modules, which
trust their input: a failure anywhere rolls the whole request back.
"""
