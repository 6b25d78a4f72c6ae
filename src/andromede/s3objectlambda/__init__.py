"""S3 Object Lambda's data path (decision 0384): GetObject through an Object Lambda access
point runs its function, and WriteGetObjectResponse carries the function's answer back."""
