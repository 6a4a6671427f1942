/* Stable names of the Avro codec's result codes (see avro_status.h). */
#include "common/avro_status.h"

const char *cavro_status_name(enum cavro_status status)
{
    switch (status) {
    case CAVRO_OK:
        return "ok";
    case CAVRO_ERR_TRUNCATED:
        return "avro_truncated";
    case CAVRO_ERR_BAD_MARKER:
        return "avro_bad_marker";
    case CAVRO_ERR_UNKNOWN_SCHEMA:
        return "avro_unknown_schema";
    case CAVRO_ERR_WRONG_TYPE:
        return "avro_wrong_type";
    case CAVRO_ERR_INCOMPATIBLE:
        return "avro_incompatible_schema";
    case CAVRO_ERR_MALFORMED:
        return "avro_malformed";
    case CAVRO_ERR_TRAILING_BYTES:
        return "avro_trailing_bytes";
    case CAVRO_ERR_INVALID_VALUE:
        return "avro_invalid_value";
    case CAVRO_ERR_NO_MEMORY:
        return "avro_no_memory";
    case CAVRO_ERR_BAD_SCHEMA:
        return "avro_bad_schema";
    }
    return "avro_unknown_status";
}
