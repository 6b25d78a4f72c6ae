"""The AWS KMS JSON API (``X-Amz-Target: TrentService.<Action>``) on the shared endpoint."""
