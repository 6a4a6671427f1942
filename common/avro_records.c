/*
 * The typed records of avro_records.h. Each record type is described by a
 * table of its fields (name in the schema, kind, offset in the C struct), and
 * one generic routine per direction walks that table: adding a field to a
 * record is one line in its table, not a change to three hand-written
 * functions.
 */
#include "common/avro_records.h"

#include <avro.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/avro_codec.h"
#include "common/avro_registry.h"

enum rec_kind {
    REC_STRING,       /* char * */
    REC_BYTES,        /* struct cavro_bytes */
    REC_OPT_BYTES,    /* struct cavro_opt_bytes, ["null", "bytes"] */
    REC_BYTES_LIST,   /* struct cavro_bytes_list, array<bytes> */
    REC_BOOL,         /* int, 0 or 1 */
    REC_INT,          /* int32_t */
    REC_LONG,         /* int64_t */
    REC_ENUM,         /* a C enum whose values index `symbols` */
    REC_CLOCK,        /* struct cavro_clock, array<ClockEntry> */
    REC_RECORD_ARRAY, /* pointer to `element` structs + size_t count at count_offset */
};

struct rec_type;

struct rec_field {
    const char *name;
    enum rec_kind kind;
    size_t offset;
    const char *const *symbols; /* REC_ENUM */
    size_t symbol_count;
    const struct rec_type *element; /* REC_RECORD_ARRAY */
    size_t element_size;
    size_t count_offset;
};

struct rec_type {
    const char *fullname;
    const struct rec_field *fields;
    size_t field_count;
};

static const char *const rec_op_kinds[] = {"YJS_UPDATE", "ITEM_WRITE", "ITEM_RESOLVE"};
static const char *const rec_merged_kinds[] = {"YJS_UPDATE", "ITEM_STATE", "ITEM_CONFLICT"};
static const char *const rec_policies[] = {"MANUAL", "LWW"};

#define REC_COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const struct rec_field rec_client_op_fields[] = {
    {.name = "doc_id", .kind = REC_STRING, .offset = offsetof(struct cavro_client_op, doc_id)},
    {.name = "op_id", .kind = REC_STRING, .offset = offsetof(struct cavro_client_op, op_id)},
    {.name = "client_id", .kind = REC_LONG, .offset = offsetof(struct cavro_client_op, client_id)},
    {.name = "user_id", .kind = REC_STRING, .offset = offsetof(struct cavro_client_op, user_id)},
    {.name = "kind",
     .kind = REC_ENUM,
     .offset = offsetof(struct cavro_client_op, kind),
     .symbols = rec_op_kinds,
     .symbol_count = REC_COUNT(rec_op_kinds)},
    {.name = "payload", .kind = REC_BYTES, .offset = offsetof(struct cavro_client_op, payload)},
    {.name = "client_time_us",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_client_op, client_time_us)},
    {.name = "ingest_time_us",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_client_op, ingest_time_us)},
    {.name = "version_vector",
     .kind = REC_CLOCK,
     .offset = offsetof(struct cavro_client_op, version_vector)},
    {.name = "ingest_node",
     .kind = REC_STRING,
     .offset = offsetof(struct cavro_client_op, ingest_node)},
};

static const struct rec_field rec_merged_op_fields[] = {
    {.name = "doc_id", .kind = REC_STRING, .offset = offsetof(struct cavro_merged_op, doc_id)},
    {.name = "doc_version",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_merged_op, doc_version)},
    {.name = "op_id", .kind = REC_STRING, .offset = offsetof(struct cavro_merged_op, op_id)},
    {.name = "kind",
     .kind = REC_ENUM,
     .offset = offsetof(struct cavro_merged_op, kind),
     .symbols = rec_merged_kinds,
     .symbol_count = REC_COUNT(rec_merged_kinds)},
    {.name = "payload", .kind = REC_BYTES, .offset = offsetof(struct cavro_merged_op, payload)},
    {.name = "state_vector",
     .kind = REC_OPT_BYTES,
     .offset = offsetof(struct cavro_merged_op, state_vector)},
    {.name = "user_id", .kind = REC_STRING, .offset = offsetof(struct cavro_merged_op, user_id)},
    {.name = "client_id", .kind = REC_LONG, .offset = offsetof(struct cavro_merged_op, client_id)},
    {.name = "ingest_time_us",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_merged_op, ingest_time_us)},
    {.name = "processed_time_us",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_merged_op, processed_time_us)},
    {.name = "source_partition",
     .kind = REC_INT,
     .offset = offsetof(struct cavro_merged_op, source_partition)},
    {.name = "source_offset",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_merged_op, source_offset)},
};

static const struct rec_field rec_item_op_fields[] = {
    {.name = "item_id", .kind = REC_STRING, .offset = offsetof(struct cavro_item_op, item_id)},
    {.name = "value", .kind = REC_BYTES, .offset = offsetof(struct cavro_item_op, value)},
    {.name = "clock", .kind = REC_CLOCK, .offset = offsetof(struct cavro_item_op, clock)},
    {.name = "time_ms", .kind = REC_LONG, .offset = offsetof(struct cavro_item_op, time_ms)},
    {.name = "client_id", .kind = REC_LONG, .offset = offsetof(struct cavro_item_op, client_id)},
};

static const struct rec_field rec_item_sibling_fields[] = {
    {.name = "value", .kind = REC_BYTES, .offset = offsetof(struct cavro_item_sibling, value)},
    {.name = "clock", .kind = REC_CLOCK, .offset = offsetof(struct cavro_item_sibling, clock)},
    {.name = "time_ms", .kind = REC_LONG, .offset = offsetof(struct cavro_item_sibling, time_ms)},
    {.name = "client_id",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_item_sibling, client_id)},
};

static const struct rec_type rec_item_sibling_type = {"collab.ItemSibling", rec_item_sibling_fields,
                                                      REC_COUNT(rec_item_sibling_fields)};

static const struct rec_field rec_item_state_fields[] = {
    {.name = "item_id", .kind = REC_STRING, .offset = offsetof(struct cavro_item_state, item_id)},
    {.name = "version", .kind = REC_LONG, .offset = offsetof(struct cavro_item_state, version)},
    {.name = "revision", .kind = REC_LONG, .offset = offsetof(struct cavro_item_state, revision)},
    {.name = "policy",
     .kind = REC_ENUM,
     .offset = offsetof(struct cavro_item_state, policy),
     .symbols = rec_policies,
     .symbol_count = REC_COUNT(rec_policies)},
    {.name = "siblings",
     .kind = REC_RECORD_ARRAY,
     .offset = offsetof(struct cavro_item_state, siblings),
     .element = &rec_item_sibling_type,
     .element_size = sizeof(struct cavro_item_sibling),
     .count_offset = offsetof(struct cavro_item_state, sibling_count)},
    {.name = "conflict", .kind = REC_BOOL, .offset = offsetof(struct cavro_item_state, conflict)},
};

static const struct rec_field rec_dlq_record_fields[] = {
    {.name = "original_key",
     .kind = REC_OPT_BYTES,
     .offset = offsetof(struct cavro_dlq_record, original_key)},
    {.name = "original_value",
     .kind = REC_BYTES,
     .offset = offsetof(struct cavro_dlq_record, original_value)},
    {.name = "topic", .kind = REC_STRING, .offset = offsetof(struct cavro_dlq_record, topic)},
    {.name = "partition", .kind = REC_INT, .offset = offsetof(struct cavro_dlq_record, partition)},
    {.name = "offset", .kind = REC_LONG, .offset = offsetof(struct cavro_dlq_record, offset)},
    {.name = "reason_code",
     .kind = REC_STRING,
     .offset = offsetof(struct cavro_dlq_record, reason_code)},
    {.name = "reason", .kind = REC_STRING, .offset = offsetof(struct cavro_dlq_record, reason)},
    {.name = "service", .kind = REC_STRING, .offset = offsetof(struct cavro_dlq_record, service)},
    {.name = "failed_time_us",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_dlq_record, failed_time_us)},
};

static const struct rec_field rec_snapshot_fields[] = {
    {.name = "doc_id", .kind = REC_STRING, .offset = offsetof(struct cavro_snapshot, doc_id)},
    {.name = "doc_version",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_snapshot, doc_version)},
    {.name = "state", .kind = REC_BYTES, .offset = offsetof(struct cavro_snapshot, state)},
    {.name = "state_vector",
     .kind = REC_BYTES,
     .offset = offsetof(struct cavro_snapshot, state_vector)},
    {.name = "items", .kind = REC_BYTES_LIST, .offset = offsetof(struct cavro_snapshot, items)},
    {.name = "source_partition",
     .kind = REC_INT,
     .offset = offsetof(struct cavro_snapshot, source_partition)},
    {.name = "source_offset",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_snapshot, source_offset)},
    {.name = "created_time_us",
     .kind = REC_LONG,
     .offset = offsetof(struct cavro_snapshot, created_time_us)},
};

static const struct rec_type rec_client_op_type = {"collab.ClientOp", rec_client_op_fields,
                                                   REC_COUNT(rec_client_op_fields)};
static const struct rec_type rec_merged_op_type = {"collab.MergedOp", rec_merged_op_fields,
                                                   REC_COUNT(rec_merged_op_fields)};
static const struct rec_type rec_item_write_type = {"collab.ItemWrite", rec_item_op_fields,
                                                    REC_COUNT(rec_item_op_fields)};
static const struct rec_type rec_item_resolve_type = {"collab.ItemResolve", rec_item_op_fields,
                                                      REC_COUNT(rec_item_op_fields)};
static const struct rec_type rec_item_state_type = {"collab.ItemState", rec_item_state_fields,
                                                    REC_COUNT(rec_item_state_fields)};
static const struct rec_type rec_dlq_record_type = {"collab.DlqRecord", rec_dlq_record_fields,
                                                    REC_COUNT(rec_dlq_record_fields)};
static const struct rec_type rec_snapshot_type = {"collab.Snapshot", rec_snapshot_fields,
                                                  REC_COUNT(rec_snapshot_fields)};

static enum cavro_status rec_fail(char *err, size_t errlen, enum cavro_status status,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum cavro_status rec_fail(char *err, size_t errlen, enum cavro_status status,
                                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen > 0) {
        /* clang 14's analyzer misreads the va_list as uninitialised. */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(err, errlen, fmt, ap);
    }
    va_end(ap);
    return status;
}

static void *rec_member(void *rec, size_t offset)
{
    return (char *)rec + offset;
}

static const void *rec_const_member(const void *rec, size_t offset)
{
    return (const char *)rec + offset;
}

/* ---- C struct -> avro value ---------------------------------------------- */

static enum cavro_status rec_to_value(const struct rec_type *type, const void *rec,
                                      avro_value_t *record, char *err, size_t errlen);

static enum cavro_status rec_set_bytes(avro_value_t *v, const struct cavro_bytes *b,
                                       const char *name, char *err, size_t errlen)
{
    static const uint8_t empty[1] = {0};
    if (b->data == NULL && b->len > 0) {
        return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: NULL data with length %zu", name,
                        b->len);
    }
    void *data = (void *)(b->len > 0 ? b->data : empty);
    if (avro_value_set_bytes(v, data, b->len) != 0) {
        return rec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "%s: %s", name, avro_strerror());
    }
    return CAVRO_OK;
}

/* Index of the union branch of the given type, or -1. */
static int rec_union_branch(avro_value_t *v, avro_type_t type)
{
    avro_schema_t schema = avro_value_get_schema(v);
    for (size_t i = 0; i < avro_schema_union_size(schema); i++) {
        if (avro_typeof(avro_schema_union_branch(schema, (int)i)) == type) {
            return (int)i;
        }
    }
    return -1;
}

static enum cavro_status rec_set_clock(avro_value_t *v, const struct cavro_clock *clock,
                                       const char *name, char *err, size_t errlen)
{
    if (clock->entries == NULL && clock->count > 0) {
        return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: NULL entries", name);
    }
    for (size_t i = 0; i < clock->count; i++) {
        const struct cavro_clock_entry *e = &clock->entries[i];
        /* One canonical form per clock, so equal clocks encode to equal bytes. */
        if (e->client_id < 0 || e->counter < 0 ||
            (i > 0 && e->client_id <= clock->entries[i - 1].client_id)) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE,
                            "%s: entry %zu is negative or not in increasing client id order", name,
                            i);
        }
        avro_value_t entry;
        avro_value_t client;
        avro_value_t counter;
        if (avro_value_append(v, &entry, NULL) != 0 ||
            avro_value_get_by_name(&entry, "client_id", &client, NULL) != 0 ||
            avro_value_get_by_name(&entry, "counter", &counter, NULL) != 0 ||
            avro_value_set_long(&client, e->client_id) != 0 ||
            avro_value_set_long(&counter, e->counter) != 0) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: not a ClockEntry array",
                            name);
        }
    }
    return CAVRO_OK;
}

static enum cavro_status rec_set_field(const struct rec_field *f, const void *rec, avro_value_t *v,
                                       char *err, size_t errlen)
{
    const void *member = rec_const_member(rec, f->offset);
    avro_value_t child;
    switch (f->kind) {
    case REC_STRING: {
        const char *s = *(char *const *)member;
        if (s == NULL) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s is NULL", f->name);
        }
        return avro_value_set_string_len(v, s, strlen(s) + 1) == 0
                   ? CAVRO_OK
                   : rec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "%s", avro_strerror());
    }
    case REC_BYTES:
        return rec_set_bytes(v, member, f->name, err, errlen);
    case REC_OPT_BYTES: {
        const struct cavro_opt_bytes *opt = member;
        int branch = rec_union_branch(v, opt->present ? AVRO_BYTES : AVRO_NULL);
        if (branch < 0 || avro_value_set_branch(v, branch, &child) != 0) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: no such union branch",
                            f->name);
        }
        return opt->present ? rec_set_bytes(&child, &opt->bytes, f->name, err, errlen) : CAVRO_OK;
    }
    case REC_BYTES_LIST: {
        const struct cavro_bytes_list *list = member;
        if (list->items == NULL && list->count > 0) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: NULL items", f->name);
        }
        for (size_t i = 0; i < list->count; i++) {
            if (avro_value_append(v, &child, NULL) != 0) {
                return rec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "%s", avro_strerror());
            }
            enum cavro_status rc = rec_set_bytes(&child, &list->items[i], f->name, err, errlen);
            if (rc != CAVRO_OK) {
                return rc;
            }
        }
        return CAVRO_OK;
    }
    case REC_BOOL:
        return avro_value_set_boolean(v, *(const int *)member != 0) == 0
                   ? CAVRO_OK
                   : rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s", f->name);
    case REC_INT:
        return avro_value_set_int(v, *(const int32_t *)member) == 0
                   ? CAVRO_OK
                   : rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s", f->name);
    case REC_LONG:
        return avro_value_set_long(v, *(const int64_t *)member) == 0
                   ? CAVRO_OK
                   : rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s", f->name);
    case REC_ENUM: {
        int value = *(const int *)member;
        int symbol = value >= 0 && (size_t)value < f->symbol_count
                         ? avro_schema_enum_get_by_name(avro_value_get_schema(v), f->symbols[value])
                         : -1;
        if (symbol < 0 || avro_value_set_enum(v, symbol) != 0) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: %d is not a symbol", f->name,
                            value);
        }
        return CAVRO_OK;
    }
    case REC_CLOCK:
        return rec_set_clock(v, member, f->name, err, errlen);
    case REC_RECORD_ARRAY: {
        const char *elements = *(const char *const *)member;
        size_t count = *(const size_t *)rec_const_member(rec, f->count_offset);
        if (elements == NULL && count > 0) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: NULL array", f->name);
        }
        for (size_t i = 0; i < count; i++) {
            if (avro_value_append(v, &child, NULL) != 0) {
                return rec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "%s", avro_strerror());
            }
            enum cavro_status rc =
                rec_to_value(f->element, elements + i * f->element_size, &child, err, errlen);
            if (rc != CAVRO_OK) {
                return rc;
            }
        }
        return CAVRO_OK;
    }
    }
    return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "%s: unknown kind", f->name);
}

static enum cavro_status rec_to_value(const struct rec_type *type, const void *rec,
                                      avro_value_t *record, char *err, size_t errlen)
{
    for (size_t i = 0; i < type->field_count; i++) {
        const struct rec_field *f = &type->fields[i];
        avro_value_t v;
        if (avro_value_get_by_name(record, f->name, &v, NULL) != 0) {
            return rec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "schema %s has no field %s",
                            type->fullname, f->name);
        }
        enum cavro_status rc = rec_set_field(f, rec, &v, err, errlen);
        if (rc != CAVRO_OK) {
            return rc;
        }
    }
    return CAVRO_OK;
}

static enum cavro_status rec_encode(const struct cavro_registry *reg, const struct rec_type *type,
                                    const void *rec, uint8_t **out, size_t *out_len, char *err,
                                    size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }
    const struct cavro_schema *writer = cavro_registry_latest(reg, type->fullname);
    if (writer == NULL) {
        return rec_fail(err, errlen, CAVRO_ERR_UNKNOWN_SCHEMA, "no schema for %s", type->fullname);
    }
    avro_value_t value;
    if (avro_generic_value_new(writer->iface, &value) != 0) {
        return rec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    enum cavro_status rc = rec_to_value(type, rec, &value, err, errlen);
    if (rc == CAVRO_OK) {
        rc = cavro_encode(writer, &value, out, out_len, err, errlen);
    }
    avro_value_decref(&value);
    return rc;
}

/* ---- avro value -> C struct ---------------------------------------------- */

static enum cavro_status rec_from_value(const struct rec_type *type, avro_value_t *record,
                                        void *rec, char *err, size_t errlen);
static void rec_clear(const struct rec_type *type, void *rec);

static char *rec_copy_string(const char *s, size_t size_with_nul)
{
    char *copy = malloc(size_with_nul > 0 ? size_with_nul : 1);
    if (copy != NULL) {
        memcpy(copy, s, size_with_nul);
        copy[size_with_nul > 0 ? size_with_nul - 1 : 0] = '\0';
    }
    return copy;
}

static enum cavro_status rec_get_bytes(avro_value_t *v, struct cavro_bytes *b)
{
    const void *data = NULL;
    size_t size = 0;
    if (avro_value_get_bytes(v, &data, &size) != 0) {
        return CAVRO_ERR_MALFORMED;
    }
    b->len = size;
    if (size == 0) {
        return CAVRO_OK;
    }
    b->data = malloc(size);
    if (b->data == NULL) {
        b->len = 0;
        return CAVRO_ERR_NO_MEMORY;
    }
    memcpy(b->data, data, size);
    return CAVRO_OK;
}

static enum cavro_status rec_get_clock(avro_value_t *v, struct cavro_clock *clock)
{
    size_t count = 0;
    if (avro_value_get_size(v, &count) != 0) {
        return CAVRO_ERR_MALFORMED;
    }
    if (count == 0) {
        return CAVRO_OK;
    }
    clock->entries = calloc(count, sizeof(*clock->entries));
    if (clock->entries == NULL) {
        return CAVRO_ERR_NO_MEMORY;
    }
    clock->count = count;
    for (size_t i = 0; i < count; i++) {
        avro_value_t entry;
        avro_value_t client;
        avro_value_t counter;
        if (avro_value_get_by_index(v, i, &entry, NULL) != 0 ||
            avro_value_get_by_name(&entry, "client_id", &client, NULL) != 0 ||
            avro_value_get_by_name(&entry, "counter", &counter, NULL) != 0 ||
            avro_value_get_long(&client, &clock->entries[i].client_id) != 0 ||
            avro_value_get_long(&counter, &clock->entries[i].counter) != 0) {
            return CAVRO_ERR_INCOMPATIBLE;
        }
        /* The same canonical form as encode asks for: what is accepted can be written. */
        const struct cavro_clock_entry *e = &clock->entries[i];
        if (e->client_id < 0 || e->counter < 0 ||
            (i > 0 && e->client_id <= clock->entries[i - 1].client_id)) {
            return CAVRO_ERR_INVALID_VALUE;
        }
    }
    return CAVRO_OK;
}

static enum cavro_status rec_get_field(const struct rec_field *f, avro_value_t *v, void *rec)
{
    void *member = rec_member(rec, f->offset);
    avro_value_t child;
    enum cavro_status rc = CAVRO_OK;
    switch (f->kind) {
    case REC_STRING: {
        const char *s = NULL;
        size_t size = 0;
        if (avro_value_get_string(v, &s, &size) != 0) {
            return CAVRO_ERR_MALFORMED;
        }
        *(char **)member = rec_copy_string(s, size);
        return *(char **)member != NULL ? CAVRO_OK : CAVRO_ERR_NO_MEMORY;
    }
    case REC_BYTES:
        return rec_get_bytes(v, member);
    case REC_OPT_BYTES: {
        struct cavro_opt_bytes *opt = member;
        if (avro_value_get_current_branch(v, &child) != 0) {
            return CAVRO_ERR_MALFORMED;
        }
        opt->present = avro_value_get_type(&child) == AVRO_BYTES;
        return opt->present ? rec_get_bytes(&child, &opt->bytes) : CAVRO_OK;
    }
    case REC_BYTES_LIST: {
        struct cavro_bytes_list *list = member;
        size_t count = 0;
        if (avro_value_get_size(v, &count) != 0) {
            return CAVRO_ERR_MALFORMED;
        }
        if (count > 0 && (list->items = calloc(count, sizeof(*list->items))) == NULL) {
            return CAVRO_ERR_NO_MEMORY;
        }
        for (size_t i = 0; rc == CAVRO_OK && i < count; i++) {
            rc = avro_value_get_by_index(v, i, &child, NULL) == 0
                     ? rec_get_bytes(&child, &list->items[i])
                     : CAVRO_ERR_MALFORMED;
            list->count = i + 1;
        }
        return rc;
    }
    case REC_BOOL:
        return avro_value_get_boolean(v, (int *)member) == 0 ? CAVRO_OK : CAVRO_ERR_MALFORMED;
    case REC_INT:
        return avro_value_get_int(v, (int32_t *)member) == 0 ? CAVRO_OK : CAVRO_ERR_MALFORMED;
    case REC_LONG:
        return avro_value_get_long(v, (int64_t *)member) == 0 ? CAVRO_OK : CAVRO_ERR_MALFORMED;
    case REC_ENUM: {
        int index = 0;
        if (avro_value_get_enum(v, &index) != 0) {
            return CAVRO_ERR_MALFORMED;
        }
        const char *symbol = avro_schema_enum_get(avro_value_get_schema(v), index);
        for (size_t i = 0; symbol != NULL && i < f->symbol_count; i++) {
            if (strcmp(symbol, f->symbols[i]) == 0) {
                *(int *)member = (int)i;
                return CAVRO_OK;
            }
        }
        /* A symbol newer than this code: the reader schema and the C enum disagree. */
        return CAVRO_ERR_INCOMPATIBLE;
    }
    case REC_CLOCK:
        return rec_get_clock(v, member);
    case REC_RECORD_ARRAY: {
        size_t count = 0;
        if (avro_value_get_size(v, &count) != 0) {
            return CAVRO_ERR_MALFORMED;
        }
        char *elements = count > 0 ? calloc(count, f->element_size) : NULL;
        if (count > 0 && elements == NULL) {
            return CAVRO_ERR_NO_MEMORY;
        }
        *(char **)member = elements;
        size_t *stored = rec_member(rec, f->count_offset);
        for (size_t i = 0; rc == CAVRO_OK && i < count; i++) {
            rc = avro_value_get_by_index(v, i, &child, NULL) == 0
                     ? rec_from_value(f->element, &child, elements + i * f->element_size, NULL, 0)
                     : CAVRO_ERR_MALFORMED;
            *stored = i + 1;
        }
        return rc;
    }
    }
    return CAVRO_ERR_MALFORMED;
}

static enum cavro_status rec_from_value(const struct rec_type *type, avro_value_t *record,
                                        void *rec, char *err, size_t errlen)
{
    for (size_t i = 0; i < type->field_count; i++) {
        const struct rec_field *f = &type->fields[i];
        avro_value_t v;
        enum cavro_status rc = avro_value_get_by_name(record, f->name, &v, NULL) == 0
                                   ? rec_get_field(f, &v, rec)
                                   : CAVRO_ERR_INCOMPATIBLE;
        if (rc != CAVRO_OK) {
            return rec_fail(err, errlen, rc, "%s.%s: %s", type->fullname, f->name,
                            cavro_status_name(rc));
        }
    }
    return CAVRO_OK;
}

static void rec_clear_bytes(struct cavro_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static void rec_clear(const struct rec_type *type, void *rec)
{
    for (size_t i = 0; i < type->field_count; i++) {
        const struct rec_field *f = &type->fields[i];
        void *member = rec_member(rec, f->offset);
        switch (f->kind) {
        case REC_STRING:
            free(*(char **)member);
            break;
        case REC_BYTES:
            rec_clear_bytes(member);
            break;
        case REC_OPT_BYTES:
            rec_clear_bytes(&((struct cavro_opt_bytes *)member)->bytes);
            break;
        case REC_BYTES_LIST: {
            struct cavro_bytes_list *list = member;
            for (size_t j = 0; j < list->count; j++) {
                rec_clear_bytes(&list->items[j]);
            }
            free(list->items);
            break;
        }
        case REC_CLOCK:
            free(((struct cavro_clock *)member)->entries);
            break;
        case REC_RECORD_ARRAY: {
            char *elements = *(char **)member;
            size_t count = *(size_t *)rec_member(rec, f->count_offset);
            for (size_t j = 0; j < count; j++) {
                rec_clear(f->element, elements + j * f->element_size);
            }
            free(elements);
            break;
        }
        case REC_BOOL:
        case REC_INT:
        case REC_LONG:
        case REC_ENUM:
            break;
        }
    }
}

/* Zeroes `rec` (struct_size bytes), then fills it; on failure frees and re-zeroes it. */
static enum cavro_status rec_decode(const struct cavro_registry *reg, const struct rec_type *type,
                                    const uint8_t *buf, size_t len, void *rec, size_t struct_size,
                                    char *err, size_t errlen)
{
    memset(rec, 0, struct_size);
    const struct cavro_schema *reader = cavro_registry_latest(reg, type->fullname);
    if (reader == NULL) {
        return rec_fail(err, errlen, CAVRO_ERR_UNKNOWN_SCHEMA, "no schema for %s", type->fullname);
    }
    avro_value_t value;
    enum cavro_status rc = cavro_decode(reg, reader, buf, len, &value, err, errlen);
    if (rc != CAVRO_OK) {
        return rc;
    }
    rc = rec_from_value(type, &value, rec, err, errlen);
    avro_value_decref(&value);
    if (rc != CAVRO_OK) {
        rec_clear(type, rec);
        memset(rec, 0, struct_size);
    }
    return rc;
}

/* ---- public API ---------------------------------------------------------- */

enum cavro_status cavro_client_op_encode(const struct cavro_registry *reg,
                                         const struct cavro_client_op *rec, uint8_t **out,
                                         size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_client_op_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_client_op_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                         size_t len, struct cavro_client_op *rec, char *err,
                                         size_t errlen)
{
    return rec_decode(reg, &rec_client_op_type, buf, len, rec, sizeof(*rec), err, errlen);
}

void cavro_client_op_clear(struct cavro_client_op *rec)
{
    rec_clear(&rec_client_op_type, rec);
    memset(rec, 0, sizeof(*rec));
}

enum cavro_status cavro_merged_op_encode(const struct cavro_registry *reg,
                                         const struct cavro_merged_op *rec, uint8_t **out,
                                         size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_merged_op_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_merged_op_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                         size_t len, struct cavro_merged_op *rec, char *err,
                                         size_t errlen)
{
    return rec_decode(reg, &rec_merged_op_type, buf, len, rec, sizeof(*rec), err, errlen);
}

void cavro_merged_op_clear(struct cavro_merged_op *rec)
{
    rec_clear(&rec_merged_op_type, rec);
    memset(rec, 0, sizeof(*rec));
}

enum cavro_status cavro_item_write_encode(const struct cavro_registry *reg,
                                          const struct cavro_item_op *rec, uint8_t **out,
                                          size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_item_write_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_item_write_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                          size_t len, struct cavro_item_op *rec, char *err,
                                          size_t errlen)
{
    return rec_decode(reg, &rec_item_write_type, buf, len, rec, sizeof(*rec), err, errlen);
}

enum cavro_status cavro_item_resolve_encode(const struct cavro_registry *reg,
                                            const struct cavro_item_op *rec, uint8_t **out,
                                            size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_item_resolve_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_item_resolve_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                            size_t len, struct cavro_item_op *rec, char *err,
                                            size_t errlen)
{
    return rec_decode(reg, &rec_item_resolve_type, buf, len, rec, sizeof(*rec), err, errlen);
}

void cavro_item_op_clear(struct cavro_item_op *rec)
{
    rec_clear(&rec_item_write_type, rec);
    memset(rec, 0, sizeof(*rec));
}

enum cavro_status cavro_item_state_encode(const struct cavro_registry *reg,
                                          const struct cavro_item_state *rec, uint8_t **out,
                                          size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_item_state_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_item_state_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                          size_t len, struct cavro_item_state *rec, char *err,
                                          size_t errlen)
{
    return rec_decode(reg, &rec_item_state_type, buf, len, rec, sizeof(*rec), err, errlen);
}

void cavro_item_state_clear(struct cavro_item_state *rec)
{
    rec_clear(&rec_item_state_type, rec);
    memset(rec, 0, sizeof(*rec));
}

enum cavro_status cavro_dlq_record_encode(const struct cavro_registry *reg,
                                          const struct cavro_dlq_record *rec, uint8_t **out,
                                          size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_dlq_record_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_dlq_record_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                          size_t len, struct cavro_dlq_record *rec, char *err,
                                          size_t errlen)
{
    return rec_decode(reg, &rec_dlq_record_type, buf, len, rec, sizeof(*rec), err, errlen);
}

void cavro_dlq_record_clear(struct cavro_dlq_record *rec)
{
    rec_clear(&rec_dlq_record_type, rec);
    memset(rec, 0, sizeof(*rec));
}

enum cavro_status cavro_snapshot_encode(const struct cavro_registry *reg,
                                        const struct cavro_snapshot *rec, uint8_t **out,
                                        size_t *out_len, char *err, size_t errlen)
{
    return rec_encode(reg, &rec_snapshot_type, rec, out, out_len, err, errlen);
}

enum cavro_status cavro_snapshot_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                        size_t len, struct cavro_snapshot *rec, char *err,
                                        size_t errlen)
{
    return rec_decode(reg, &rec_snapshot_type, buf, len, rec, sizeof(*rec), err, errlen);
}

void cavro_snapshot_clear(struct cavro_snapshot *rec)
{
    rec_clear(&rec_snapshot_type, rec);
    memset(rec, 0, sizeof(*rec));
}

const char *cavro_merged_kind_name(enum cavro_merged_kind kind)
{
    size_t i = (size_t)kind;
    return i < REC_COUNT(rec_merged_kinds) ? rec_merged_kinds[i] : "UNKNOWN";
}

const char *cavro_record_type(const struct cavro_registry *reg, const uint8_t *buf, size_t len)
{
    uint64_t fingerprint = 0;
    if (cavro_peek_fingerprint(buf, len, &fingerprint) != CAVRO_OK) {
        return NULL;
    }
    const struct cavro_schema *s = cavro_registry_by_fingerprint(reg, fingerprint);
    return s != NULL ? s->fullname : NULL;
}
