/*
 * argon2id password hashes with libsodium (see auth_password.h).
 */
#include "common/auth_password.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

struct authpw_params authpw_params_default(void)
{
    struct authpw_params params = {AUTHPW_DEFAULT_OPSLIMIT, AUTHPW_DEFAULT_MEMLIMIT};
    return params;
}

enum authpw_status authpw_params_check(const struct authpw_params *params)
{
    if (params->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        params->opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
        params->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        params->memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
        return AUTHPW_BAD_PARAMS;
    }
    return AUTHPW_OK;
}

static enum authpw_status authpw_check_password(const char *password, size_t len)
{
    if (password == NULL || len == 0 || len > AUTHPW_PASSWORD_MAX) {
        return AUTHPW_BAD_PASSWORD;
    }
    return AUTHPW_OK;
}

/* An argon2i or argon2id PHC string, NUL-terminated within AUTHPW_HASH_MAX. */
static int authpw_is_argon2_string(const char *hash)
{
    if (hash == NULL || memchr(hash, '\0', AUTHPW_HASH_MAX) == NULL) {
        return 0;
    }
    return strncmp(hash, "$argon2id$", 10) == 0 || strncmp(hash, "$argon2i$", 9) == 0;
}

enum authpw_status authpw_hash(const struct authpw_params *params, const char *password, size_t len,
                               char out[AUTHPW_HASH_MAX])
{
    if (authpw_params_check(params) != AUTHPW_OK) {
        return AUTHPW_BAD_PARAMS;
    }
    if (authpw_check_password(password, len) != AUTHPW_OK) {
        return AUTHPW_BAD_PASSWORD;
    }
    /* sodium_init() is idempotent and thread-safe; it seeds the salt generator. */
    if (sodium_init() < 0) {
        return AUTHPW_NO_MEMORY;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(hash, password, len, params->opslimit, params->memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        /* The only failure left once the inputs are checked: memlimit not available. */
        return AUTHPW_NO_MEMORY;
    }
    _Static_assert(crypto_pwhash_STRBYTES <= AUTHPW_HASH_MAX, "AUTHPW_HASH_MAX too small");
    memcpy(out, hash, sizeof(hash));
    sodium_memzero(hash, sizeof(hash));
    return AUTHPW_OK;
}

enum authpw_status authpw_verify(const char *hash, const char *password, size_t len)
{
    if (!authpw_is_argon2_string(hash)) {
        return AUTHPW_BAD_HASH;
    }
    if (authpw_check_password(password, len) != AUTHPW_OK) {
        return AUTHPW_BAD_PASSWORD;
    }
    if (sodium_init() < 0) {
        return AUTHPW_NO_MEMORY;
    }
    /* libsodium answers -1 for a mismatch and for an unparsable hash alike; a
     * parse check tells them apart without hashing twice. */
    if (crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                       crypto_pwhash_argon2id_MEMLIMIT_MIN) < 0 &&
        crypto_pwhash_argon2i_str_needs_rehash(hash, crypto_pwhash_argon2i_OPSLIMIT_MIN,
                                               crypto_pwhash_argon2i_MEMLIMIT_MIN) < 0) {
        return AUTHPW_BAD_HASH;
    }
    errno = 0;
    if (crypto_pwhash_str_verify(hash, password, len) == 0) {
        return AUTHPW_OK;
    }
    return errno == ENOMEM ? AUTHPW_NO_MEMORY : AUTHPW_MISMATCH;
}

int authpw_needs_rehash(const char *hash, const struct authpw_params *params)
{
    if (!authpw_is_argon2_string(hash)) {
        return -1;
    }
    if (strncmp(hash, "$argon2id$", 10) != 0) {
        /* Valid argon2i hash: still verifiable, but re-hash it to argon2id. */
        return crypto_pwhash_argon2i_str_needs_rehash(hash, params->opslimit, params->memlimit) < 0
                   ? -1
                   : 1;
    }
    int rc = crypto_pwhash_argon2id_str_needs_rehash(hash, params->opslimit, params->memlimit);
    return rc < 0 ? -1 : rc;
}

const char *authpw_status_name(enum authpw_status status)
{
    switch (status) {
    case AUTHPW_OK:
        return "ok";
    case AUTHPW_MISMATCH:
        return "password_mismatch";
    case AUTHPW_BAD_HASH:
        return "password_bad_hash";
    case AUTHPW_BAD_PARAMS:
        return "password_bad_params";
    case AUTHPW_BAD_PASSWORD:
        return "password_rejected";
    case AUTHPW_NO_MEMORY:
        return "password_no_memory";
    }
    return "password_unknown_status";
}
