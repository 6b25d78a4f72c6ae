"""S3 Select's errors: AWS's "List of SELECT Object Content Error Codes", each with its
message. An error met before any event was sent is answered as an HTTP 400 XML error; one met
after is an event-stream error frame (``eventstream.py``), as on AWS.
"""

from __future__ import annotations

from typing import Final

from andromede.errors import AndromedeError

__all__ = ["MESSAGES", "SelectError"]

MESSAGES: Final[dict[str, str]] = {
    "AmbiguousFieldName": (
        "Field name matches to multiple fields in the file. Check the SQL expression and the "
        "file, and try again."
    ),
    "CastFailed": (
        "Attempt to convert from one data type to another using CAST failed in the SQL expression."
    ),
    "CSVEscapingRecordDelimiter": (
        "A quoted record delimiter was found in the file. To allow quoted record delimiters, "
        "set AllowQuotedRecordDelimiter to 'TRUE'."
    ),
    "CSVParsingError": "Encountered an error parsing the CSV file. Check the file and try again.",
    "CSVUnescapedQuote": (
        "A CSV record contains an unescaped quote character. Check the file and try again."
    ),
    "EvaluatorInvalidArguments": "Incorrect number of arguments in the function call.",
    "EvaluatorLikePatternInvalidEscapeSequence": (
        "An argument given to the LIKE expression was not valid."
    ),
    "EvaluatorNegativeLimit": "The LIMIT clause must not be negative.",
    "ExpressionTooLong": (
        "The SQL expression is too long: The maximum byte-length for the SQL expression is 256 KB."
    ),
    "IllegalSqlFunctionArgument": "Illegal argument was used in the SQL function.",
    "IncorrectSqlFunctionArgumentType": (
        "Incorrect type of arguments in function call in the SQL expression."
    ),
    "IntegerOverflow": "Integer overflow or underflow in the SQL expression.",
    "InvalidColumnIndex": (
        "The column index is invalid. Please check the service documentation and try again."
    ),
    "InvalidCompressionFormat": "The file is not in a supported compression format.",
    "InvalidExpressionType": "The ExpressionType is invalid. Only SQL expressions are supported.",
    "InvalidTextEncoding": "Invalid encoding type. Only UTF-8 encoding is supported.",
    "JSONParsingError": "Encountered an error parsing the JSON file. Check the file and try again.",
    "MissingRequiredParameter": "The SelectRequest entity is missing a required parameter.",
    "ObjectSerializationConflict": "The InputSerialization specified more than one format.",
    "OverMaxRecordSize": (
        "The length of a record in the input or result is greater than maxCharsPerRecord of 1 MB."
    ),
    "ParquetParsingError": (
        "An error occurred while parsing the Parquet file. Check the file and try again."
    ),
    "ParseExpectedExpression": "Did not find the expected SQL expression.",
    "ParseExpectedKeyword": "Did not find the expected keyword in the SQL expression.",
    "ParseInvalidPathComponent": "Invalid Path component, expecting either an IDENTIFIER or STAR.",
    "ParseUnexpectedToken": "Unexpected token found while parsing the SQL expression.",
    "ParseUnexpectedOperator": "Unexpected operator found while parsing the SQL expression.",
    "ParseUnknownOperator": "The SQL expression contains an invalid operator.",
    "UnrecognizedFormatException": "We encountered a record type that is not valid.",
    "UnsupportedFunction": "Encountered an unsupported SQL function.",
    "UnsupportedScanRangeInput": "Scan range queries are not supported on this type of object.",
    "UnsupportedSyntax": "Encountered invalid syntax.",
    "UnsupportedSqlOperation": "Encountered an unsupported SQL operation.",
    "UnsupportedSqlStructure": "Encountered an unsupported SQL structure. Check the SQL Reference.",
    "ValueParseFailure": "Time stamp parse failure in the SQL expression.",
}


class SelectError(AndromedeError):
    """A Select error: one of :data:`MESSAGES`' codes (all HTTP 400 on AWS), its message,
    optionally told more precisely (the token, the column) — never object content."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        message = MESSAGES.get(code, code)
        if detail:
            message = f"{message} {detail}"
        super().__init__(message)
        self.code = code
        self.message = message
