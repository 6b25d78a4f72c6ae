"""The steps every AWS-style wire API takes whatever its protocol (JSON, Query, REST-XML):
who signed the request, and whether they may send another now (decision 0162)."""
