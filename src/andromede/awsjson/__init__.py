"""The request skeleton of AWS's JSON protocol (``X-Amz-Target`` + JSON body), shared by the
wire APIs that speak it — KMS and SQS (decision 0162)."""
