/*
 * items_json: the JSON form of an item state, which the processor stores in
 * MongoDB `items` and Redis `item:{doc}:{item}`, publishes as the conflict
 * notice, and loads back after a restart. Values are bytes, so they travel as
 * standard base64 (libsodium's codec, which needs no sodium_init). Loading
 * validates everything and never trusts the derived fields;
 * processor/README-items.md shows the format.
 */
#ifndef PROCESSOR_ITEMS_JSON_H
#define PROCESSOR_ITEMS_JSON_H

#include "processor/items.h"

#include <jansson.h>
#include <stddef.h>

/*
 * The full state: item_id, policy, version, revision, vector_clock (merge of
 * all), the derived current value (conflict, value_base64, timestamp_ms,
 * client_id: null while in conflict or never written) and every sibling.
 * A new object (caller json_decref), or NULL when memory ran out.
 */
json_t *items_state_to_json(const items_state *s);

/* One version: value_base64, vector_clock, timestamp_ms, client_id. A new
 * object (caller json_decref), or NULL when memory ran out. */
json_t *items_sibling_to_json(const items_sibling *sibling);

/*
 * Loads a state written by items_state_to_json. On success *out is a new state
 * (release with items_state_free); on failure nothing is allocated, and when
 * why is not NULL it receives a one-line reason such as
 * "siblings[1].vector_clock: vector clock JSON key is not a decimal client id".
 */
items_error items_state_from_json(items_state *out, const json_t *json, char *why, size_t why_size);

#endif
