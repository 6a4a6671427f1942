/*
 * libFuzzer target for the Avro decoder (common/avro_codec.c and the typed
 * records on top of it). The first input byte picks the record type, the rest
 * is handed to its decoder as Kafka record bytes. Whatever comes in must give
 * either an error code or a record; and a record that decodes must encode
 * again and decode again (what consumers accept, producers can write).
 *
 * Seeds: valid records of every type, written by fuzz_avro_seeds.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/avro_codec.h"
#include "common/avro_records.h"
#include "common/avro_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RECORD_TYPES 7

static void fuzz_require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_avro_decode: %s\n", what);
        abort();
    }
}

/* Each fuzz_<type>: decode, and on success re-encode and decode once more. */
static void fuzz_client_op(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_client_op rec;
    if (cavro_client_op_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_client_op_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_client_op_clear(&rec);
        fuzz_require(cavro_client_op_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_client_op_clear(&rec);
}

static void fuzz_merged_op(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_merged_op rec;
    if (cavro_merged_op_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_merged_op_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_merged_op_clear(&rec);
        fuzz_require(cavro_merged_op_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_merged_op_clear(&rec);
}

static void fuzz_item_write(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_item_op rec;
    if (cavro_item_write_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_item_write_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_item_op_clear(&rec);
        fuzz_require(cavro_item_write_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_item_op_clear(&rec);
}

static void fuzz_item_resolve(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_item_op rec;
    if (cavro_item_resolve_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_item_resolve_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_item_op_clear(&rec);
        fuzz_require(cavro_item_resolve_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_item_op_clear(&rec);
}

static void fuzz_item_state(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_item_state rec;
    if (cavro_item_state_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_item_state_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_item_state_clear(&rec);
        fuzz_require(cavro_item_state_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_item_state_clear(&rec);
}

static void fuzz_dlq_record(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_dlq_record rec;
    if (cavro_dlq_record_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_dlq_record_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_dlq_record_clear(&rec);
        fuzz_require(cavro_dlq_record_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_dlq_record_clear(&rec);
}

static void fuzz_snapshot(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    char err[256];
    struct cavro_snapshot rec;
    if (cavro_snapshot_decode(reg, buf, len, &rec, err, sizeof(err)) == CAVRO_OK) {
        uint8_t *again = NULL;
        size_t again_len = 0;
        fuzz_require(cavro_snapshot_encode(reg, &rec, &again, &again_len, err, sizeof(err)) ==
                         CAVRO_OK,
                     "decoded record does not encode");
        cavro_snapshot_clear(&rec);
        fuzz_require(cavro_snapshot_decode(reg, again, again_len, &rec, err, sizeof(err)) ==
                         CAVRO_OK,
                     "re-encoded record does not decode");
        free(again);
    }
    cavro_snapshot_clear(&rec);
}

static void fuzz_one(const struct cavro_registry *reg, unsigned selector, const uint8_t *buf,
                     size_t len)
{
    char err[256];

    switch (selector % FUZZ_RECORD_TYPES) {
    case 0:
        fuzz_client_op(reg, buf, len);
        break;
    case 1:
        fuzz_merged_op(reg, buf, len);
        break;
    case 2:
        fuzz_item_write(reg, buf, len);
        break;
    case 3:
        fuzz_item_resolve(reg, buf, len);
        break;
    case 4:
        fuzz_item_state(reg, buf, len);
        break;
    case 5:
        fuzz_dlq_record(reg, buf, len);
        break;
    default:
        fuzz_snapshot(reg, buf, len);
        break;
    }
    /* The generic decoder against every registered revision as reader, which
     * exercises old-to-new and new-to-old resolution. */
    for (size_t i = 0; i < cavro_registry_size(reg); i++) {
        avro_value_t value;
        if (cavro_decode(reg, cavro_registry_at(reg, i), buf, len, &value, err, sizeof(err)) ==
            CAVRO_OK) {
            avro_value_decref(&value);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Built once per fuzzing process and never freed: the registry is
     * immutable, and rebuilding it per input would drown the decoder in
     * schema parsing. */
    static struct cavro_registry *reg;
    if (reg == NULL) {
        char err[256];
        if (cavro_registry_new_builtin(&reg, err, sizeof(err)) != CAVRO_OK) {
            fprintf(stderr, "registry: %s\n", err);
            abort();
        }
    }
    if (size == 0) {
        return 0;
    }
    fuzz_one(reg, data[0], data + 1, size - 1);
    return 0;
}
