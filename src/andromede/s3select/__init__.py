"""S3 Select (decision 0234): the SQL subset AWS documents for SelectObjectContent, run over a
stream of object bytes, and the event stream its answer travels in.

Pure: no I/O, no HTTP. ``sql.py`` parses an expression into the AST of ``syntax.py``,
``evaluate.py`` compiles it into closures evaluated over rows (``values.py``: rows, paths,
conversions), ``functions.py`` holds its functions, ``records.py`` reads the input formats
(CSV, JSON) and writes the output ones, ``scan.py`` runs a query over chunks of bytes with
bounded memory, ``eventstream.py`` frames the answer as AWS's event stream, and ``errors.py``
has Select's own error codes. The S3 handler (``andromede.s3.handlers.select``) reads the
object and the request and streams what this package makes.
"""
