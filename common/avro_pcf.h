/*
 * Parsing Canonical Form (PCF) of Avro schemas and their CRC-64-AVRO (Rabin)
 * fingerprint, as defined by the Avro 1.11 specification ("Parsing Canonical
 * Form for Schemas" and "Schema Fingerprints").
 *
 * The single-object encoding (see avro_codec.h) names a record's writer schema
 * by this fingerprint. avro-c 1.11 has neither function, so they are written
 * here on top of jansson; docs/decisions.md says why.
 */
#ifndef COLLAB_AVRO_PCF_H
#define COLLAB_AVRO_PCF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Computes the Parsing Canonical Form of the schema in `json` (`len` bytes,
 * need not be NUL-terminated). Returns 0 and stores in *out a NUL-terminated
 * string allocated with malloc (the caller frees it with free()), or -1 with a
 * reason in `err` (always NUL-terminated when errlen > 0) and *out untouched.
 */
int cavro_pcf_from_json(const char *json, size_t len, char **out, char *err, size_t errlen);

/* CRC-64-AVRO fingerprint of `len` bytes (normally a schema's PCF). */
uint64_t cavro_fingerprint64(const void *data, size_t len);

/*
 * Fullname of a named type called `name`, given its explicit namespace
 * attribute (NULL when absent) and the enclosing namespace ("" for none), by
 * the specification's rules. Returns a malloc'd string the caller frees with
 * free(), or NULL when out of memory.
 */
char *cavro_pcf_fullname(const char *name, const char *explicit_ns, const char *enclosing_ns);

/* Writes the namespace part of `fullname` ("" if none) into `ns`, which must
 * have room for strlen(fullname) + 1 bytes. */
void cavro_pcf_namespace_of(const char *fullname, char *ns);

#endif
