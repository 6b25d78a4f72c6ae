"""The IAM and STS APIs on the shared endpoint: AWS's Query protocol (form-encoded requests, XML
answers), chosen by the ``iam``/``sts`` service of the request's SigV4 credential scope."""
