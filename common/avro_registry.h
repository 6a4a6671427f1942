/*
 * The registry of known Avro writer schemas, by CRC-64-AVRO fingerprint.
 *
 * Every the schemas/ .avsc files file is compiled into the binaries (schemas/schemas.cmake
 * generates avro_schemas_generated.c) and loaded here once at start-up: the
 * current revision of each record type and every older one, so that records
 * written by older producers stay readable. For each pair of revisions of one
 * record type the registry prepares the avro-c resolver from writer to reader
 * (avro_codec.c uses it), including fields the reader added with a default,
 * which avro-c 1.11 cannot resolve by itself.
 *
 * Schema files are named <record>.v<revision>.avsc; the highest revision of a
 * record type is its reader schema. A registry is immutable once built and may
 * be shared by threads (avro-c reference counts are atomic).
 */
#ifndef COLLAB_AVRO_REGISTRY_H
#define COLLAB_AVRO_REGISTRY_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/avro_status.h"

/* One schema's JSON text and the file it came from. */
struct cavro_schema_source {
    const char *file; /* e.g. "client_op.v2.avsc" */
    const char *json;
    size_t len;
};

/* the schemas/ .avsc files, generated at build time (avro_schemas.c.in). */
extern const struct cavro_schema_source cavro_builtin_schemas[];
extern const size_t cavro_builtin_schema_count;

/* One registered schema revision. Owned by its registry. */
struct cavro_schema {
    char *file;
    char *fullname; /* e.g. "collab.ClientOp" */
    int revision;
    char *canonical; /* Parsing Canonical Form */
    uint64_t fingerprint;
    avro_schema_t schema;
    avro_value_iface_t *iface; /* generic values of this schema */
    json_t *json;              /* the parsed .avsc, for field defaults */
    json_t *records;           /* fullname -> "fields" array of every record in it (borrowed) */
};

/* How records written with `writer` are read as `reader`. Owned by its registry. */
struct cavro_resolution {
    const struct cavro_schema *writer;
    const struct cavro_schema *reader;
    int compatible;
    char reason[200]; /* why not, when !compatible */
    /* The reader without the fields the writer lacks: what avro-c resolves into. */
    avro_schema_t effective;
    avro_value_iface_t *effective_iface;
    avro_value_iface_t *resolver; /* avro-c resolved writer; NULL when writer == reader */
    int fills_defaults;           /* 1 when effective != reader */
};

struct cavro_registry;

/*
 * Builds a registry from `count` sources (the builtin table, or test schemas).
 * Returns CAVRO_OK and *out, which the caller frees with cavro_registry_free(),
 * or CAVRO_ERR_BAD_SCHEMA (invalid JSON or schema, file name not
 * <name>.v<n>.avsc, top level not a record, invalid field default, duplicate
 * fingerprint or revision, newest revision of a record type unable to read
 * an older one) / CAVRO_ERR_NO_MEMORY with a reason in `err`. An older
 * revision unable to read a newer one is not an error: decoding that pair
 * fails with CAVRO_ERR_INCOMPATIBLE.
 */
enum cavro_status cavro_registry_new(const struct cavro_schema_source *sources, size_t count,
                                     struct cavro_registry **out, char *err, size_t errlen);

/* cavro_registry_new() over the schemas compiled into the binary. */
enum cavro_status cavro_registry_new_builtin(struct cavro_registry **out, char *err, size_t errlen);

void cavro_registry_free(struct cavro_registry *registry);

/* The schema with this fingerprint, or NULL. */
const struct cavro_schema *cavro_registry_by_fingerprint(const struct cavro_registry *registry,
                                                         uint64_t fingerprint);

/* The newest revision of a record type (e.g. "collab.ClientOp"), or NULL. */
const struct cavro_schema *cavro_registry_latest(const struct cavro_registry *registry,
                                                 const char *fullname);

/* The schema loaded from a file name (e.g. "client_op.v1.avsc"), or NULL. */
const struct cavro_schema *cavro_registry_by_file(const struct cavro_registry *registry,
                                                  const char *file);

/* The resolution from `writer` to `reader` (same record type), or NULL. */
const struct cavro_resolution *cavro_registry_resolution(const struct cavro_registry *registry,
                                                         const struct cavro_schema *writer,
                                                         const struct cavro_schema *reader);

/* Number of registered schemas, and the i-th one (file-name order), for listings. */
size_t cavro_registry_size(const struct cavro_registry *registry);
const struct cavro_schema *cavro_registry_at(const struct cavro_registry *registry, size_t index);

#endif
