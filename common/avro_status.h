/*
 * Result codes of the Avro codec (avro_registry, avro_validate, avro_codec,
 * avro_records). Each has a stable snake_case name, used as the reason code of
 * DLQ records and as a metric label, so names never change once shipped.
 */
#ifndef COLLAB_AVRO_STATUS_H
#define COLLAB_AVRO_STATUS_H

enum cavro_status {
    CAVRO_OK = 0,
    CAVRO_ERR_TRUNCATED,      /* shorter than the header, or the body ends inside a value */
    CAVRO_ERR_BAD_MARKER,     /* does not start with the single-object marker C3 01 */
    CAVRO_ERR_UNKNOWN_SCHEMA, /* writer fingerprint not in the registry */
    CAVRO_ERR_WRONG_TYPE,     /* writer schema is another record type than the one asked for */
    CAVRO_ERR_INCOMPATIBLE,   /* writer and reader schemas cannot be resolved */
    CAVRO_ERR_MALFORMED,      /* body is not a valid encoding of the writer schema */
    CAVRO_ERR_TRAILING_BYTES, /* bytes left after the record */
    CAVRO_ERR_INVALID_VALUE,  /* a value to encode breaks the schema or the field's rules */
    CAVRO_ERR_NO_MEMORY,
    CAVRO_ERR_BAD_SCHEMA /* a schema given to the registry is invalid */
};

/* Stable name of a status, e.g. "avro_truncated"; never NULL. */
const char *cavro_status_name(enum cavro_status status);

#endif
