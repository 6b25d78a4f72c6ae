"""AWS's S3 Control API (REST-XML under ``/v20180820/``, SigV4 service ``s3``): the account's
own S3 settings, starting with the account-level Block Public Access (decision 0152)."""
