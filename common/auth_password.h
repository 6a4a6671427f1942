/*
 * Password hashing for user accounts: argon2id through libsodium's
 * crypto_pwhash_str, in the self-describing PHC string format
 * ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") that is stored in MongoDB
 * `users`. The parameters are configurable; a stored hash made with weaker
 * parameters than the current ones is reported by authpw_needs_rehash() so that
 * login can re-hash it while it has the plain password at hand.
 */
#ifndef COLLAB_AUTH_PASSWORD_H
#define COLLAB_AUTH_PASSWORD_H

#include <stddef.h>

/* Room for any hash string authpw_hash() writes, NUL included. */
#define AUTHPW_HASH_MAX 128
/* Longer passwords are refused: they add nothing but work for an attacker to ask for. */
#define AUTHPW_PASSWORD_MAX 1024

/* Defaults: libsodium's "interactive" argon2id cost, 2 passes over 64 MiB. */
#define AUTHPW_DEFAULT_OPSLIMIT 2ULL
#define AUTHPW_DEFAULT_MEMLIMIT ((size_t)64 * 1024 * 1024)

enum authpw_status {
    AUTHPW_OK = 0,
    AUTHPW_MISMATCH,     /* verify: wrong password */
    AUTHPW_BAD_HASH,     /* the stored string is not an argon2 hash */
    AUTHPW_BAD_PARAMS,   /* opslimit/memlimit outside libsodium's argon2id limits */
    AUTHPW_BAD_PASSWORD, /* empty, or longer than AUTHPW_PASSWORD_MAX */
    AUTHPW_NO_MEMORY,    /* libsodium could not get memlimit bytes, or init failed */
};

struct authpw_params {
    unsigned long long opslimit; /* argon2 passes */
    size_t memlimit;             /* bytes of memory per hash */
};

/* The default parameters (AUTHPW_DEFAULT_*). */
struct authpw_params authpw_params_default(void);

/* AUTHPW_OK when libsodium accepts the parameters for argon2id. */
enum authpw_status authpw_params_check(const struct authpw_params *params);

/*
 * Hashes a password (`len` bytes, any content) with a fresh random salt and
 * writes the NUL-terminated hash string into `out`. Nothing is allocated.
 */
enum authpw_status authpw_hash(const struct authpw_params *params, const char *password, size_t len,
                               char out[AUTHPW_HASH_MAX]);

/* AUTHPW_OK when `password` matches the stored `hash`, AUTHPW_MISMATCH when it
 * does not, AUTHPW_BAD_HASH when `hash` is not an argon2 hash string. Takes as
 * long as the hash's parameters say, whatever the answer. */
enum authpw_status authpw_verify(const char *hash, const char *password, size_t len);

/* 1 when `hash` was not made with argon2id and exactly `params`, 0 when it
 * was, -1 when it is not an argon2 hash string. */
int authpw_needs_rehash(const char *hash, const struct authpw_params *params);

/* Stable name of a status for logs and metrics, e.g. "password_mismatch". */
const char *authpw_status_name(enum authpw_status status);

#endif
