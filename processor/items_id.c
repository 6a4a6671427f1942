/*
 * items_id: what an item id may be. Ids become part of Redis keys
 * (item:{doc}:{item}) and MongoDB ids and travel in JSON, so they must be
 * short, valid UTF-8 and free of control characters. See items.h.
 */
#include "processor/items.h"

#include <string.h>

/* A valid UTF-8 string with no C0/C1 control character or DEL. */
static bool utf8_printable(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
            i++;
            continue;
        }
        /* The lead byte gives the continuation count and the payload bits. */
        size_t extra;
        if ((c & 0xe0) == 0xc0) {
            extra = 1;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
        } else {
            return false;
        }
        static const uint32_t smallest_for[4] = {0, 0x80, 0x800, 0x10000};
        uint32_t smallest = smallest_for[extra];
        uint32_t cp = c & (0x7fu >> (extra + 1));
        if (len - i <= extra) {
            return false;
        }
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        /* Overlong forms, surrogates, beyond Unicode, C1 controls. */
        if (cp < smallest || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

items_error items_check_item_id(const char *item_id)
{
    if (!item_id) {
        return ITEMS_ERR_ARGUMENT;
    }
    size_t len = strnlen(item_id, ITEMS_MAX_ID_BYTES + 1);
    if (len == 0) {
        return ITEMS_ERR_ITEM_ID_EMPTY;
    }
    if (len > ITEMS_MAX_ID_BYTES) {
        return ITEMS_ERR_ITEM_ID_TOO_LONG;
    }
    if (!utf8_printable((const unsigned char *)item_id, len)) {
        return ITEMS_ERR_ITEM_ID_INVALID;
    }
    return ITEMS_OK;
}
