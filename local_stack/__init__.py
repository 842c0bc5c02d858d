"""The whole flow on one machine: moto S3 with notifications, the loader fed from them, and an HTTP front door.

Both Lambda handlers run unchanged in this process; a directory stands in for EFS.
"""
