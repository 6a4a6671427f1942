/*
 * items_json: item state <-> JSON (jansson), values in base64 (libsodium).
 * Loading builds a scratch state and hands it over only when every field has
 * been checked, including that the siblings are pairwise concurrent and that
 * the stored vector_clock is their merge. See items_json.h.
 */
#include "processor/items_json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the base64 text of the largest value, without the NUL. */
static size_t value_base64_max_chars(void)
{
    return sodium_base64_encoded_len(ITEMS_MAX_VALUE_BYTES, sodium_base64_VARIANT_ORIGINAL) - 1;
}

static json_t *base64_json(const uint8_t *value, size_t len)
{
    size_t size = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(size);
    if (!text) {
        return NULL;
    }
    sodium_bin2base64(text, size, value, len, sodium_base64_VARIANT_ORIGINAL);
    json_t *string = json_string(text);
    free(text);
    return string;
}

/* Adds key -> value to object, taking value over; false when either failed. */
static bool put(json_t *object, const char *key, json_t *value)
{
    return value && json_object_set_new(object, key, value) == 0;
}

json_t *items_sibling_to_json(const items_sibling *sibling)
{
    json_t *object = json_object();
    if (!object) {
        return NULL;
    }
    if (!put(object, "value_base64", base64_json(sibling->value, sibling->value_len)) ||
        !put(object, "vector_clock", vclock_to_json(&sibling->clock)) ||
        !put(object, "timestamp_ms", json_integer((json_int_t)sibling->timestamp_ms)) ||
        !put(object, "client_id", json_integer((json_int_t)sibling->client_id))) {
        json_decref(object);
        return NULL;
    }
    return object;
}

json_t *items_state_to_json(const items_state *s)
{
    json_t *object = json_object();
    json_t *siblings = json_array();
    if (!object || !siblings) {
        json_decref(object);
        json_decref(siblings);
        return NULL;
    }
    for (size_t i = 0; i < s->sibling_count; i++) {
        if (json_array_append_new(siblings, items_sibling_to_json(&s->siblings[i])) != 0) {
            json_decref(object);
            json_decref(siblings);
            return NULL;
        }
    }
    const items_sibling *current = items_current(s);
    bool ok = put(object, "item_id", json_string(s->item_id)) &&
              put(object, "policy", json_string(items_policy_name(s->policy))) &&
              put(object, "version", json_integer((json_int_t)s->version)) &&
              put(object, "revision", json_integer((json_int_t)s->revision)) &&
              put(object, "vector_clock", vclock_to_json(&s->clock)) &&
              put(object, "conflict", json_boolean(items_in_conflict(s)));
    if (ok && current) {
        ok = put(object, "value_base64", base64_json(current->value, current->value_len)) &&
             put(object, "timestamp_ms", json_integer((json_int_t)current->timestamp_ms)) &&
             put(object, "client_id", json_integer((json_int_t)current->client_id));
    } else if (ok) {
        ok = put(object, "value_base64", json_null()) && put(object, "timestamp_ms", json_null()) &&
             put(object, "client_id", json_null());
    }
    if (!ok || !put(object, "siblings", siblings)) {
        if (!ok) {
            json_decref(siblings);
        }
        json_decref(object);
        return NULL;
    }
    return object;
}

/* Writes "<field>: <problem>" into why (when given); always ITEMS_ERR_BAD_JSON. */
static items_error fail(char *why, size_t why_size, const char *field, const char *problem)
{
    if (why && why_size > 0) {
        snprintf(why, why_size, "%s: %s", field, problem);
    }
    return ITEMS_ERR_BAD_JSON;
}

/* Same for "siblings[<index>].<field>", or "siblings[<index>]" when field is NULL. */
static items_error fail_sibling(char *why, size_t why_size, size_t index, const char *field,
                                const char *problem)
{
    if (why && why_size > 0) {
        snprintf(why, why_size, "siblings[%zu]%s%s: %s", index, field ? "." : "",
                 field ? field : "", problem);
    }
    return ITEMS_ERR_BAD_JSON;
}

/* An integer field 0 .. VCLOCK_INT_MAX. */
static bool get_uint(const json_t *object, const char *key, uint64_t *value)
{
    const json_t *field = json_object_get(object, key);
    if (!json_is_integer(field) || json_integer_value(field) < 0 ||
        (uint64_t)json_integer_value(field) > VCLOCK_INT_MAX) {
        return false;
    }
    *value = (uint64_t)json_integer_value(field);
    return true;
}

static items_error sibling_from_json(items_sibling *out, const json_t *json, size_t index,
                                     char *why, size_t why_size)
{
    if (!json_is_object(json)) {
        return fail_sibling(why, why_size, index, NULL, "not an object");
    }
    out->value = NULL;
    out->value_len = 0;
    vclock_init(&out->clock);
    if (!get_uint(json, "timestamp_ms", &out->timestamp_ms)) {
        return fail_sibling(why, why_size, index, "timestamp_ms", "not an integer 0..2^53-1");
    }
    if (!get_uint(json, "client_id", &out->client_id)) {
        return fail_sibling(why, why_size, index, "client_id", "not an integer 0..2^53-1");
    }
    vclock_status status = vclock_from_json(&out->clock, json_object_get(json, "vector_clock"));
    if (status != VCLOCK_OK) {
        return fail_sibling(why, why_size, index, "vector_clock", vclock_strerror(status));
    }
    if (out->clock.count == 0) {
        vclock_free(&out->clock);
        return fail_sibling(why, why_size, index, "vector_clock", "empty");
    }
    const json_t *text = json_object_get(json, "value_base64");
    if (!json_is_string(text) || json_string_length(text) > value_base64_max_chars()) {
        vclock_free(&out->clock);
        return fail_sibling(why, why_size, index, "value_base64",
                            "not a base64 string of at most 64 KiB");
    }
    size_t text_len = json_string_length(text);
    size_t capacity = text_len / 4 * 3 + 3;
    if (text_len > 0) {
        out->value = malloc(capacity);
        if (!out->value) {
            vclock_free(&out->clock);
            return ITEMS_ERR_NOMEM;
        }
        if (sodium_base642bin(out->value, capacity, json_string_value(text), text_len, NULL,
                              &out->value_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
            free(out->value);
            out->value = NULL;
            vclock_free(&out->clock);
            return fail_sibling(why, why_size, index, "value_base64", "not base64");
        }
        if (out->value_len == 0) {
            free(out->value);
            out->value = NULL;
        }
    }
    if (out->value_len > ITEMS_MAX_VALUE_BYTES) {
        free(out->value);
        out->value = NULL;
        vclock_free(&out->clock);
        return fail_sibling(why, why_size, index, NULL, items_strerror(ITEMS_ERR_VALUE_TOO_LARGE));
    }
    return ITEMS_OK;
}

static int sibling_cmp(const void *a, const void *b)
{
    const items_sibling *x = a;
    const items_sibling *y = b;
    return vclock_canonical_cmp(&x->clock, &y->clock);
}

/* Checks the loaded siblings and the stored clock; sorts the siblings. */
static items_error check_siblings(items_state *s, const json_t *json, char *why, size_t why_size)
{
    for (size_t i = 0; i < s->sibling_count; i++) {
        for (size_t j = i + 1; j < s->sibling_count; j++) {
            vclock_order order = vclock_compare(&s->siblings[i].clock, &s->siblings[j].clock);
            if (order != VCLOCK_CONCURRENT) {
                if (why && why_size > 0) {
                    snprintf(why, why_size,
                             "siblings[%zu] and siblings[%zu] are %s, not concurrent", i, j,
                             vclock_order_name(order));
                }
                return ITEMS_ERR_BAD_JSON;
            }
        }
    }
    if (s->sibling_count > 1) {
        qsort(s->siblings, s->sibling_count, sizeof(s->siblings[0]), sibling_cmp);
    }
    vclock merged;
    vclock_init(&merged);
    for (size_t i = 0; i < s->sibling_count; i++) {
        vclock_status status = vclock_merge(&merged, &s->siblings[i].clock);
        if (status != VCLOCK_OK) {
            vclock_free(&merged);
            return status == VCLOCK_ERR_NOMEM
                       ? ITEMS_ERR_NOMEM
                       : fail(why, why_size, "siblings: merged clock", vclock_strerror(status));
        }
    }
    vclock stored;
    vclock_init(&stored);
    vclock_status status = vclock_from_json(&stored, json_object_get(json, "vector_clock"));
    bool matches = status == VCLOCK_OK && vclock_equal(&stored, &merged);
    vclock_free(&stored);
    if (!matches) {
        vclock_free(&merged);
        return status != VCLOCK_OK
                   ? fail(why, why_size, "vector_clock", vclock_strerror(status))
                   : fail(why, why_size, "vector_clock", "not the merge of the siblings' clocks");
    }
    vclock_free(&s->clock);
    s->clock = merged;
    return ITEMS_OK;
}

items_error items_state_from_json(items_state *out, const json_t *json, char *why, size_t why_size)
{
    if (!json_is_object(json)) {
        return fail(why, why_size, "item state", "not an object");
    }
    const json_t *item_id = json_object_get(json, "item_id");
    if (!json_is_string(item_id) ||
        strlen(json_string_value(item_id)) != json_string_length(item_id)) {
        return fail(why, why_size, "item_id", "not a string");
    }
    items_error error = items_check_item_id(json_string_value(item_id));
    if (error != ITEMS_OK) {
        return fail(why, why_size, "item_id", items_strerror(error));
    }
    items_policy policy;
    if (!items_policy_from_name(json_string_value(json_object_get(json, "policy")), &policy)) {
        return fail(why, why_size, "policy", "not \"manual\" or \"lww\"");
    }
    uint64_t version;
    uint64_t revision;
    if (!get_uint(json, "version", &version) || !get_uint(json, "revision", &revision) ||
        revision < version) {
        return fail(why, why_size, "version, revision",
                    "not integers 0..2^53-1 with revision >= version");
    }
    const json_t *siblings = json_object_get(json, "siblings");
    if (!json_is_array(siblings) || json_array_size(siblings) > ITEMS_MAX_SIBLINGS) {
        return fail(why, why_size, "siblings", "not an array of at most 32 versions");
    }

    items_state scratch;
    error = items_state_init(&scratch, json_string_value(item_id), policy);
    if (error != ITEMS_OK) {
        return error;
    }
    scratch.version = version;
    scratch.revision = revision;
    size_t count = json_array_size(siblings);
    if (count > 0) {
        scratch.siblings = calloc(count, sizeof(scratch.siblings[0]));
        if (!scratch.siblings) {
            items_state_free(&scratch);
            return ITEMS_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < count; i++) {
        error =
            sibling_from_json(&scratch.siblings[i], json_array_get(siblings, i), i, why, why_size);
        if (error != ITEMS_OK) {
            items_state_free(&scratch);
            return error;
        }
        scratch.sibling_count++;
    }
    error = check_siblings(&scratch, json, why, why_size);
    if (error != ITEMS_OK) {
        items_state_free(&scratch);
        return error;
    }
    *out = scratch;
    return ITEMS_OK;
}
