/*
 * wire: turns a merged operation - from a collab.merged record (feed.c) or
 * from MongoDB crdt_operations (loader.c) - into the message a reader gets
 * (docs/protocol.md): MERGED for a Yjs update, ITEM with the item state's
 * JSON (processor/README-items.md) for ITEM_STATE and ITEM_CONFLICT, whose
 * payload is an Avro ItemState record. Any thread (the Avro registry is
 * read-only). Prefix: bcwire_.
 */
#ifndef BROADCASTER_WIRE_H
#define BROADCASTER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "broadcaster/msg.h"
#include "common/avro_records.h"

/*
 * The message for one merged operation of the given kind
 * ("YJS_UPDATE", "ITEM_STATE", "ITEM_CONFLICT", as stored in MongoDB).
 * A new message with one reference (caller unrefs), or NULL with the reason
 * in err (unknown kind, undecodable item state, out of memory).
 */
bcmsg *bcwire_merged(const struct cavro_registry *reg, const char *kind, uint64_t version,
                     const char *op_id, int64_t ingest_time_us, const uint8_t *payload, size_t len,
                     char *err, size_t err_size);

/* A RESYNC or ERROR message (one reference), or NULL when out of memory. */
bcmsg *bcwire_resync(const char *reason);
bcmsg *bcwire_error(const char *code, const char *message);

/* A STATE message for a whole-document update (one reference), or NULL. */
bcmsg *bcwire_state(uint64_t version, const uint8_t *update, size_t len);

/* A SYNCED message for version (one reference), or NULL. */
bcmsg *bcwire_synced(uint64_t version);

/* The ITEM message of an existing item sent after a STATE at version: the
 * item JSON as stored in MongoDB items (re-serialised compact, as live ITEM
 * messages carry it), an empty op id, no ingest time. One reference, or
 * NULL with the reason in err. */
bcmsg *bcwire_state_item(uint64_t version, const char *state_json, char *err, size_t err_size);

/* An AWARENESS message around a y-protocols awareness update, or NULL. */
bcmsg *bcwire_awareness(const uint8_t *update, size_t len);

#endif
