"""How Znuny's JSON deviates from a model's XML schema, field by field: the words models declare them in.

A model lists its quirks by field name, `__json__ = {"SLAID": ID_OR_EMPTY, ...}` (a tuple for
several), and the REST transport applies them; SOAP and the WSDL never see them. A leaf, so
that models (operations) and the transport share the words without importing each other.
"""

NUMBER = "number"  # a JSON number from a decimal ("TimeUnit": 2.5), whatever the XML type
ID_OR_EMPTY = "id_or_empty"  # a number when set, "" when not
ONE_OR_MANY = "one_or_many"  # a list sent as the bare value when it holds one item
NULLABLE = "nullable"  # null when the operation gives None
AS_GIVEN = "as_given"  # the JSON type of the value the operation gives (Znuny answers some numbers as strings)
