# The timeline for one request from a store of 1,000,000 records.
