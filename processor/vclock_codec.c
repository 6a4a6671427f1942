/*
 * vclock_codec: the two serialised forms of a vector clock. Binary: unsigned
 * LEB128 varints, canonical only (see vclock.h); JSON: {"client id": counter}
 * through jansson, for the MongoDB and Redis views. Every decoder validates
 * fully into a scratch clock first, so bad input never leaves a half-written
 * clock behind.
 */
#include "processor/vclock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value up to VCLOCK_INT_MAX (53 bits) needs at most 8 varint bytes. */
#define VARUINT_MAX_BYTES 8

static size_t varuint_size(uint64_t value)
{
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

static size_t varuint_write(uint8_t *out, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)((value & 0x7f) | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

/* Reads a canonical varint at in[*pos]; advances *pos. */
static vclock_status varuint_read(const uint8_t *in, size_t len, size_t *pos, uint64_t *value)
{
    uint64_t result = 0;
    for (unsigned i = 0; i < VARUINT_MAX_BYTES; i++) {
        if (*pos >= len) {
            return VCLOCK_ERR_TRUNCATED;
        }
        uint8_t byte = in[(*pos)++];
        result |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            /* A last byte of 0 after others only pads: one value, one encoding. */
            if (byte == 0 && i > 0) {
                return VCLOCK_ERR_NOT_CANONICAL;
            }
            if (result > VCLOCK_INT_MAX) {
                return VCLOCK_ERR_RANGE;
            }
            *value = result;
            return VCLOCK_OK;
        }
    }
    return VCLOCK_ERR_RANGE;
}

size_t vclock_encoded_size(const vclock *c)
{
    size_t size = varuint_size(c->count);
    for (size_t i = 0; i < c->count; i++) {
        size += varuint_size(c->entries[i].client_id) + varuint_size(c->entries[i].counter);
    }
    return size;
}

vclock_status vclock_encode(const vclock *c, uint8_t *out, size_t capacity, size_t *written)
{
    size_t size = vclock_encoded_size(c);
    if (capacity < size) {
        return VCLOCK_ERR_BUFFER;
    }
    size_t n = varuint_write(out, c->count);
    for (size_t i = 0; i < c->count; i++) {
        n += varuint_write(out + n, c->entries[i].client_id);
        n += varuint_write(out + n, c->entries[i].counter);
    }
    *written = n;
    return VCLOCK_OK;
}

/* Moves src's entries into dst, freeing dst's old ones; src is left empty. */
static void vclock_replace(vclock *dst, vclock *src)
{
    vclock_free(dst);
    *dst = *src;
    vclock_init(src);
}

vclock_status vclock_decode(vclock *out, const uint8_t *in, size_t len, size_t *consumed)
{
    size_t pos = 0;
    uint64_t count;
    vclock_status status = varuint_read(in, len, &pos, &count);
    if (status != VCLOCK_OK) {
        return status == VCLOCK_ERR_RANGE ? VCLOCK_ERR_TOO_MANY : status;
    }
    if (count > VCLOCK_MAX_ENTRIES) {
        return VCLOCK_ERR_TOO_MANY;
    }
    if (count > (len - pos) / 2) {
        return VCLOCK_ERR_TRUNCATED; /* every entry takes at least two bytes */
    }
    vclock scratch;
    vclock_init(&scratch);
    if (count > 0) {
        scratch.entries = malloc((size_t)count * sizeof(scratch.entries[0]));
        if (!scratch.entries) {
            return VCLOCK_ERR_NOMEM;
        }
        scratch.capacity = (size_t)count;
    }
    for (uint64_t i = 0; i < count; i++) {
        vclock_entry entry;
        status = varuint_read(in, len, &pos, &entry.client_id);
        if (status == VCLOCK_OK) {
            status = varuint_read(in, len, &pos, &entry.counter);
        }
        if (status == VCLOCK_OK && entry.counter == 0) {
            status = VCLOCK_ERR_NOT_CANONICAL;
        }
        if (status == VCLOCK_OK && i > 0 &&
            scratch.entries[scratch.count - 1].client_id >= entry.client_id) {
            status = VCLOCK_ERR_NOT_CANONICAL;
        }
        if (status != VCLOCK_OK) {
            vclock_free(&scratch);
            return status;
        }
        scratch.entries[scratch.count++] = entry;
    }
    if (!consumed && pos != len) {
        vclock_free(&scratch);
        return VCLOCK_ERR_TRAILING;
    }
    vclock_replace(out, &scratch);
    if (consumed) {
        *consumed = pos;
    }
    return VCLOCK_OK;
}

json_t *vclock_to_json(const vclock *c)
{
    json_t *object = json_object();
    if (!object) {
        return NULL;
    }
    /* jansson keeps insertion order, so keys come out in client id order. */
    for (size_t i = 0; i < c->count; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%" PRIu64, c->entries[i].client_id);
        if (json_object_set_new(object, key, json_integer((json_int_t)c->entries[i].counter))) {
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

/* Canonical decimal: digits only, no leading zero, at most VCLOCK_INT_MAX. */
static bool parse_client_id(const char *key, uint64_t *client_id)
{
    size_t len = strlen(key);
    if (len == 0 || len > 16 || (len > 1 && key[0] == '0')) {
        return false;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (key[i] < '0' || key[i] > '9') {
            return false;
        }
        value = value * 10 + (uint64_t)(key[i] - '0');
    }
    if (value > VCLOCK_INT_MAX) {
        return false;
    }
    *client_id = value;
    return true;
}

vclock_status vclock_from_json(vclock *out, const json_t *json)
{
    if (!json_is_object(json)) {
        return VCLOCK_ERR_NOT_OBJECT;
    }
    size_t size = json_object_size(json);
    if (size > VCLOCK_MAX_ENTRIES) {
        return VCLOCK_ERR_TOO_MANY;
    }
    vclock_entry *entries = malloc((size > 0 ? size : 1) * sizeof(*entries));
    if (!entries) {
        return VCLOCK_ERR_NOMEM;
    }
    size_t count = 0;
    vclock_status status = VCLOCK_OK;
    /* jansson's iterators take a non-const object but do not modify it. */
    json_t *object = (json_t *)json;
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        if (!parse_client_id(key, &entries[count].client_id)) {
            status = VCLOCK_ERR_BAD_KEY;
            break;
        }
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            (uint64_t)json_integer_value(value) > VCLOCK_INT_MAX) {
            status = VCLOCK_ERR_BAD_COUNTER;
            break;
        }
        entries[count++].counter = (uint64_t)json_integer_value(value);
    }
    if (status == VCLOCK_OK) {
        status = vclock_from_entries(out, entries, count);
    }
    free(entries);
    return status;
}
