/*
 * Loads the schema sources into the registry (see avro_registry.h): parses
 * each with avro-c and jansson, fingerprints its Parsing Canonical Form,
 * checks field defaults, and prepares a resolver for every pair of revisions
 * of the same record type.
 */
#include "common/avro_registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/avro_pcf.h"

#define REGISTRY_MAX_DEPTH 64

struct cavro_registry {
    struct cavro_schema *schemas;
    size_t count;
    struct cavro_resolution *resolutions;
    size_t resolution_count;
};

static enum cavro_status registry_fail(char *err, size_t errlen, enum cavro_status status,
                                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum cavro_status registry_fail(char *err, size_t errlen, enum cavro_status status,
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

/* "<name>.v<revision>.avsc" -> revision >= 1, or -1. */
static int registry_parse_revision(const char *file)
{
    size_t len = strlen(file);
    const char *suffix = ".avsc";
    if (len < 5 || strcmp(file + len - 5, suffix) != 0) {
        return -1;
    }
    const char *end = file + len - 5;
    const char *digits = end;
    while (digits > file && digits[-1] >= '0' && digits[-1] <= '9') {
        digits--;
    }
    if (digits == end || end - digits > 6 || digits - file < 3 || digits[-1] != 'v' ||
        digits[-2] != '.') {
        return -1;
    }
    int revision = 0;
    for (const char *p = digits; p < end; p++) {
        revision = revision * 10 + (*p - '0');
    }
    return revision >= 1 ? revision : -1;
}

/* Full name of a named avro-c schema; malloc'd, the caller frees it. */
static char *registry_avro_fullname(avro_schema_t schema)
{
    const char *ns = avro_schema_namespace(schema);
    return cavro_pcf_fullname(avro_schema_name(schema), NULL, ns != NULL ? ns : "");
}

/* Records every record definition under `node` in `map` as fullname -> "fields". */
static int registry_collect_records(json_t *node, const char *ns, json_t *map, int depth)
{
    if (depth > REGISTRY_MAX_DEPTH) {
        return -1;
    }
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            if (registry_collect_records(json_array_get(node, i), ns, map, depth + 1) != 0) {
                return -1;
            }
        }
        return 0;
    }
    if (!json_is_object(node)) {
        return 0;
    }
    const char *type = json_string_value(json_object_get(node, "type"));
    if (type == NULL) {
        return 0;
    }
    if (strcmp(type, "array") == 0) {
        return registry_collect_records(json_object_get(node, "items"), ns, map, depth + 1);
    }
    if (strcmp(type, "map") == 0) {
        return registry_collect_records(json_object_get(node, "values"), ns, map, depth + 1);
    }
    if (strcmp(type, "record") != 0) {
        return 0;
    }
    const char *name = json_string_value(json_object_get(node, "name"));
    json_t *fields = json_object_get(node, "fields");
    if (name == NULL || !json_is_array(fields)) {
        return -1;
    }
    char *full =
        cavro_pcf_fullname(name, json_string_value(json_object_get(node, "namespace")), ns);
    char *inner_ns = full != NULL ? malloc(strlen(full) + 1) : NULL;
    int rc = -1;
    if (inner_ns != NULL && json_object_set(map, full, fields) == 0) {
        cavro_pcf_namespace_of(full, inner_ns);
        rc = 0;
        for (size_t i = 0; rc == 0 && i < json_array_size(fields); i++) {
            json_t *ftype = json_object_get(json_array_get(fields, i), "type");
            rc = registry_collect_records(ftype, inner_ns, map, depth + 1);
        }
    }
    free(inner_ns);
    free(full);
    return rc;
}

static json_t *registry_field_by_name(json_t *fields, const char *name)
{
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *field = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(field, "name"));
        if (fname != NULL && strcmp(fname, name) == 0) {
            return field;
        }
    }
    return NULL;
}

/* Does a JSON default fit the schema, by the specification's table of defaults? */
static int registry_default_fits(avro_schema_t schema, json_t *value, json_t *records, int depth)
{
    if (depth > REGISTRY_MAX_DEPTH) {
        return 0;
    }
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        return json_is_null(value);
    case AVRO_BOOLEAN:
        return json_is_boolean(value);
    case AVRO_INT32:
        return json_is_integer(value) && json_integer_value(value) >= INT32_MIN &&
               json_integer_value(value) <= INT32_MAX;
    case AVRO_INT64:
        return json_is_integer(value);
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        return json_is_number(value);
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_FIXED:
        return json_is_string(value);
    case AVRO_ENUM:
        return json_is_string(value) &&
               avro_schema_enum_get_by_name(schema, json_string_value(value)) >= 0;
    case AVRO_ARRAY:
        if (!json_is_array(value)) {
            return 0;
        }
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (!registry_default_fits(avro_schema_array_items(schema), json_array_get(value, i),
                                       records, depth + 1)) {
                return 0;
            }
        }
        return 1;
    case AVRO_MAP: {
        if (!json_is_object(value)) {
            return 0;
        }
        const char *key;
        json_t *item;
        json_object_foreach(value, key, item)
        {
            if (!registry_default_fits(avro_schema_map_values(schema), item, records, depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    case AVRO_UNION:
        /* A union's default belongs to its first branch. */
        return avro_schema_union_size(schema) > 0 &&
               registry_default_fits(avro_schema_union_branch(schema, 0), value, records,
                                     depth + 1);
    case AVRO_RECORD: {
        if (!json_is_object(value)) {
            return 0;
        }
        char *full = registry_avro_fullname(schema);
        json_t *fields = full != NULL ? json_object_get(records, full) : NULL;
        free(full);
        for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
            const char *fname = avro_schema_record_field_name(schema, (int)i);
            json_t *given = json_object_get(value, fname);
            if (given == NULL) {
                given = json_object_get(registry_field_by_name(fields, fname), "default");
            }
            if (given == NULL ||
                !registry_default_fits(avro_schema_record_field_get_by_index(schema, (int)i), given,
                                       records, depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    case AVRO_LINK:
        return registry_default_fits(avro_schema_link_target(schema), value, records, depth + 1);
    default:
        return 0;
    }
}

/* Checks the field defaults of every record reachable from `schema` (links are
 * not followed: they point at a record already visited). */
static enum cavro_status registry_check_defaults(const struct cavro_schema *s, avro_schema_t schema,
                                                 char *err, size_t errlen, int depth)
{
    if (depth > REGISTRY_MAX_DEPTH) {
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "%s: nested too deep", s->file);
    }
    enum cavro_status rc = CAVRO_OK;
    switch (avro_typeof(schema)) {
    case AVRO_ARRAY:
        return registry_check_defaults(s, avro_schema_array_items(schema), err, errlen, depth + 1);
    case AVRO_MAP:
        return registry_check_defaults(s, avro_schema_map_values(schema), err, errlen, depth + 1);
    case AVRO_UNION:
        for (size_t i = 0; rc == CAVRO_OK && i < avro_schema_union_size(schema); i++) {
            rc = registry_check_defaults(s, avro_schema_union_branch(schema, (int)i), err, errlen,
                                         depth + 1);
        }
        return rc;
    case AVRO_RECORD:
        break;
    default:
        return CAVRO_OK;
    }
    char *record_name = registry_avro_fullname(schema);
    json_t *fields = record_name != NULL ? json_object_get(s->records, record_name) : NULL;
    if (fields == NULL) {
        rc = registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "%s: record %s not found", s->file,
                           record_name != NULL ? record_name : "?");
    }
    for (size_t i = 0; rc == CAVRO_OK && i < avro_schema_record_size(schema); i++) {
        const char *fname = avro_schema_record_field_name(schema, (int)i);
        avro_schema_t ftype = avro_schema_record_field_get_by_index(schema, (int)i);
        json_t *def = json_object_get(registry_field_by_name(fields, fname), "default");
        if (def != NULL && !registry_default_fits(ftype, def, s->records, 0)) {
            rc = registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA,
                               "%s: default of field %s.%s does not fit its type", s->file,
                               record_name, fname);
        } else {
            rc = registry_check_defaults(s, ftype, err, errlen, depth + 1);
        }
    }
    free(record_name);
    return rc;
}

static enum cavro_status registry_load(const struct cavro_schema_source *src,
                                       struct cavro_schema *s, char *err, size_t errlen)
{
    s->revision = registry_parse_revision(src->file);
    if (s->revision < 0) {
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA,
                             "%s: schema files are named <record>.v<revision>.avsc", src->file);
    }
    s->file = strdup(src->file);
    if (s->file == NULL) {
        return registry_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    char reason[200];
    if (cavro_pcf_from_json(src->json, src->len, &s->canonical, reason, sizeof(reason)) != 0) {
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "%s: %s", src->file, reason);
    }
    s->fingerprint = cavro_fingerprint64(s->canonical, strlen(s->canonical));
    if (avro_schema_from_json_length(src->json, src->len, &s->schema) != 0) {
        s->schema = NULL;
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "%s: %s", src->file,
                             avro_strerror());
    }
    if (!is_avro_record(s->schema)) {
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA,
                             "%s: a Kafka record schema must be a record", src->file);
    }
    s->fullname = registry_avro_fullname(s->schema);
    s->json = json_loadb(src->json, src->len, 0, NULL);
    s->records = json_object();
    s->iface = avro_generic_class_from_schema(s->schema);
    if (s->fullname == NULL || s->json == NULL || s->records == NULL || s->iface == NULL) {
        return registry_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "%s: out of memory", src->file);
    }
    if (registry_collect_records(s->json, "", s->records, 0) != 0) {
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "%s: malformed record definition",
                             src->file);
    }
    return registry_check_defaults(s, s->schema, err, errlen, 0);
}

/*
 * Removes from the reader's records (a private copy, `node`) the fields that
 * the writer's record of the same name lacks; each must have a default, which
 * the decoder fills in. Returns 0, or -1 with a reason.
 */
static int registry_prune(json_t *node, const char *ns, json_t *writer_records, int *pruned,
                          char *reason, size_t reasonlen, int depth)
{
    if (depth > REGISTRY_MAX_DEPTH) {
        snprintf(reason, reasonlen, "schema nested too deep");
        return -1;
    }
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            if (registry_prune(json_array_get(node, i), ns, writer_records, pruned, reason,
                               reasonlen, depth + 1) != 0) {
                return -1;
            }
        }
        return 0;
    }
    const char *type = json_string_value(json_object_get(node, "type"));
    if (type == NULL) {
        return 0;
    }
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        json_t *inner = json_object_get(node, type[0] == 'a' ? "items" : "values");
        return registry_prune(inner, ns, writer_records, pruned, reason, reasonlen, depth + 1);
    }
    if (strcmp(type, "record") != 0) {
        return 0;
    }
    char *full = cavro_pcf_fullname(json_string_value(json_object_get(node, "name")),
                                    json_string_value(json_object_get(node, "namespace")), ns);
    char *inner_ns = full != NULL ? malloc(strlen(full) + 1) : NULL;
    if (inner_ns == NULL) {
        free(full);
        snprintf(reason, reasonlen, "out of memory");
        return -1;
    }
    cavro_pcf_namespace_of(full, inner_ns);
    json_t *writer_fields = json_object_get(writer_records, full);
    json_t *fields = json_object_get(node, "fields");
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < json_array_size(fields)) {
        json_t *field = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(field, "name"));
        if (writer_fields != NULL && registry_field_by_name(writer_fields, fname) == NULL) {
            if (json_object_get(field, "default") == NULL) {
                snprintf(reason, reasonlen, "reader field %s.%s is not written and has no default",
                         full, fname);
                rc = -1;
            } else if (json_array_remove(fields, i) != 0) {
                snprintf(reason, reasonlen, "cannot prune %s.%s", full, fname);
                rc = -1;
            } else {
                *pruned = 1;
            }
            continue;
        }
        rc = registry_prune(json_object_get(field, "type"), inner_ns, writer_records, pruned,
                            reason, reasonlen, depth + 1);
        i++;
    }
    free(inner_ns);
    free(full);
    return rc;
}

static void registry_resolve(struct cavro_resolution *r)
{
    const struct cavro_schema *w = r->writer;
    const struct cavro_schema *rd = r->reader;
    if (w == rd) {
        r->compatible = 1;
        r->effective = avro_schema_incref(rd->schema);
        r->effective_iface = avro_value_iface_incref(rd->iface);
        return;
    }
    json_t *copy = json_deep_copy(rd->json);
    int pruned = 0;
    if (copy == NULL ||
        registry_prune(copy, "", w->records, &pruned, r->reason, sizeof(r->reason), 0) != 0) {
        if (copy == NULL) {
            snprintf(r->reason, sizeof(r->reason), "out of memory");
        }
        json_decref(copy);
        return;
    }
    if (pruned) {
        char *text = json_dumps(copy, JSON_COMPACT);
        if (text == NULL || avro_schema_from_json_length(text, strlen(text), &r->effective) != 0) {
            snprintf(r->reason, sizeof(r->reason), "cannot build the effective reader: %s",
                     text == NULL ? "out of memory" : avro_strerror());
            r->effective = NULL;
        }
        free(text);
        r->effective_iface =
            r->effective != NULL ? avro_generic_class_from_schema(r->effective) : NULL;
    } else {
        r->effective = avro_schema_incref(rd->schema);
        r->effective_iface = avro_value_iface_incref(rd->iface);
    }
    json_decref(copy);
    if (r->effective_iface == NULL) {
        return;
    }
    r->resolver = avro_resolved_writer_new(w->schema, r->effective);
    if (r->resolver == NULL) {
        snprintf(r->reason, sizeof(r->reason), "%s", avro_strerror());
        return;
    }
    r->fills_defaults = pruned;
    r->compatible = 1;
}

void cavro_registry_free(struct cavro_registry *registry)
{
    if (registry == NULL) {
        return;
    }
    for (size_t i = 0; i < registry->resolution_count; i++) {
        struct cavro_resolution *r = &registry->resolutions[i];
        if (r->resolver != NULL) {
            avro_value_iface_decref(r->resolver);
        }
        if (r->effective_iface != NULL) {
            avro_value_iface_decref(r->effective_iface);
        }
        if (r->effective != NULL) {
            avro_schema_decref(r->effective);
        }
    }
    free(registry->resolutions);
    for (size_t i = 0; i < registry->count; i++) {
        struct cavro_schema *s = &registry->schemas[i];
        if (s->iface != NULL) {
            avro_value_iface_decref(s->iface);
        }
        if (s->schema != NULL) {
            avro_schema_decref(s->schema);
        }
        json_decref(s->records);
        json_decref(s->json);
        free(s->canonical);
        free(s->fullname);
        free(s->file);
    }
    free(registry->schemas);
    free(registry);
}

static enum cavro_status registry_check_unique(const struct cavro_registry *reg, char *err,
                                               size_t errlen)
{
    for (size_t i = 0; i < reg->count; i++) {
        for (size_t j = i + 1; j < reg->count; j++) {
            const struct cavro_schema *a = &reg->schemas[i];
            const struct cavro_schema *b = &reg->schemas[j];
            if (a->fingerprint == b->fingerprint) {
                return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA,
                                     "%s and %s have the same canonical form", a->file, b->file);
            }
            if (strcmp(a->fullname, b->fullname) == 0 && a->revision == b->revision) {
                return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA,
                                     "%s and %s are both revision %d of %s", a->file, b->file,
                                     a->revision, a->fullname);
            }
        }
    }
    return CAVRO_OK;
}

/* Two loaded schemas of the same record type (a schema whose load failed has
 * no name and matches nothing). */
static int registry_same_type(const struct cavro_schema *a, const struct cavro_schema *b)
{
    return a->fullname != NULL && b->fullname != NULL && strcmp(a->fullname, b->fullname) == 0;
}

static enum cavro_status registry_build_resolutions(struct cavro_registry *reg)
{
    size_t pairs = 0;
    for (size_t i = 0; i < reg->count; i++) {
        for (size_t j = 0; j < reg->count; j++) {
            if (registry_same_type(&reg->schemas[i], &reg->schemas[j])) {
                pairs++;
            }
        }
    }
    if (pairs == 0) {
        return CAVRO_OK;
    }
    reg->resolutions = calloc(pairs, sizeof(*reg->resolutions));
    if (reg->resolutions == NULL) {
        return CAVRO_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < reg->count; i++) {
        for (size_t j = 0; j < reg->count; j++) {
            if (!registry_same_type(&reg->schemas[i], &reg->schemas[j])) {
                continue;
            }
            struct cavro_resolution *r = &reg->resolutions[reg->resolution_count++];
            r->writer = &reg->schemas[i];
            r->reader = &reg->schemas[j];
            registry_resolve(r);
        }
    }
    return CAVRO_OK;
}

/* The newest revision of each record type must read every older one: records
 * written long ago stay in Kafka and must never become unreadable. (Old readers
 * of new records are not required: readers are deployed first.) */
static enum cavro_status registry_check_backward(const struct cavro_registry *reg, char *err,
                                                 size_t errlen)
{
    for (size_t i = 0; i < reg->resolution_count; i++) {
        const struct cavro_resolution *r = &reg->resolutions[i];
        if (!r->compatible && r->reader == cavro_registry_latest(reg, r->reader->fullname)) {
            return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "%s cannot read %s: %s",
                                 r->reader->file, r->writer->file, r->reason);
        }
    }
    return CAVRO_OK;
}

enum cavro_status cavro_registry_new(const struct cavro_schema_source *sources, size_t count,
                                     struct cavro_registry **out, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }
    if (count == 0) {
        return registry_fail(err, errlen, CAVRO_ERR_BAD_SCHEMA, "no schemas given");
    }
    struct cavro_registry *reg = calloc(1, sizeof(*reg));
    if (reg == NULL || (reg->schemas = calloc(count, sizeof(*reg->schemas))) == NULL) {
        free(reg);
        return registry_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    enum cavro_status rc = CAVRO_OK;
    for (size_t i = 0; i < count && rc == CAVRO_OK; i++) {
        reg->count++;
        rc = registry_load(&sources[i], &reg->schemas[i], err, errlen);
    }
    if (rc == CAVRO_OK) {
        rc = registry_check_unique(reg, err, errlen);
    }
    if (rc == CAVRO_OK && registry_build_resolutions(reg) != CAVRO_OK) {
        rc = registry_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    if (rc == CAVRO_OK) {
        rc = registry_check_backward(reg, err, errlen);
    }
    if (rc != CAVRO_OK) {
        cavro_registry_free(reg);
        return rc;
    }
    *out = reg;
    return CAVRO_OK;
}

enum cavro_status cavro_registry_new_builtin(struct cavro_registry **out, char *err, size_t errlen)
{
    return cavro_registry_new(cavro_builtin_schemas, cavro_builtin_schema_count, out, err, errlen);
}

const struct cavro_schema *cavro_registry_by_fingerprint(const struct cavro_registry *registry,
                                                         uint64_t fingerprint)
{
    for (size_t i = 0; i < registry->count; i++) {
        if (registry->schemas[i].fingerprint == fingerprint) {
            return &registry->schemas[i];
        }
    }
    return NULL;
}

const struct cavro_schema *cavro_registry_latest(const struct cavro_registry *registry,
                                                 const char *fullname)
{
    const struct cavro_schema *best = NULL;
    for (size_t i = 0; i < registry->count; i++) {
        const struct cavro_schema *s = &registry->schemas[i];
        if (strcmp(s->fullname, fullname) == 0 && (best == NULL || s->revision > best->revision)) {
            best = s;
        }
    }
    return best;
}

const struct cavro_schema *cavro_registry_by_file(const struct cavro_registry *registry,
                                                  const char *file)
{
    for (size_t i = 0; i < registry->count; i++) {
        if (strcmp(registry->schemas[i].file, file) == 0) {
            return &registry->schemas[i];
        }
    }
    return NULL;
}

const struct cavro_resolution *cavro_registry_resolution(const struct cavro_registry *registry,
                                                         const struct cavro_schema *writer,
                                                         const struct cavro_schema *reader)
{
    for (size_t i = 0; i < registry->resolution_count; i++) {
        const struct cavro_resolution *r = &registry->resolutions[i];
        if (r->writer == writer && r->reader == reader) {
            return r;
        }
    }
    return NULL;
}

size_t cavro_registry_size(const struct cavro_registry *registry)
{
    return registry->count;
}

const struct cavro_schema *cavro_registry_at(const struct cavro_registry *registry, size_t index)
{
    return index < registry->count ? &registry->schemas[index] : NULL;
}
