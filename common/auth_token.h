/*
 * Access tokens: JWTs issued at login and verified on every HTTP request and
 * WebSocket connection (docs/api.md, "Authentication").
 *
 * The algorithm is fixed by configuration (HS256 with a shared secret, or
 * RS256/ES256 with a PEM key pair) and a token whose header names any other
 * algorithm - `none` included - is refused before its signature is looked at,
 * which closes algorithm confusion (an HS256 token "signed" with the RSA
 * public key). Issuing and RS256/ES256 signatures use libjwt 1.10; HS256
 * signatures are checked with libsodium's HMAC-SHA256 and a constant-time
 * comparison because libjwt 1.10 compares them with strcmp. exp, nbf, iat,
 * iss, aud, sub and jti are checked here: libjwt 1.10 checks no claim.
 *
 * Every verification failure has its own reason code (metric "auth failures
 * by reason"). Time is passed in by the caller, so tests need no clock.
 */
#ifndef COLLAB_AUTH_TOKEN_H
#define COLLAB_AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* Longer tokens are refused unread (libjwt copies parts onto the stack). */
#define AUTHTOKEN_MAX_LEN 8192
/* HS256 secrets shorter than the hash output (RFC 7518 section 3.2) are refused. */
#define AUTHTOKEN_MIN_SECRET_LEN 32
/* RS256 moduli shorter than 2048 bits are refused. */
#define AUTHTOKEN_MIN_RSA_BITS           2048
#define AUTHTOKEN_DEFAULT_TTL_SECONDS    3600
#define AUTHTOKEN_MAX_TTL_SECONDS        ((int64_t)30 * 24 * 3600)
#define AUTHTOKEN_DEFAULT_LEEWAY_SECONDS 30
#define AUTHTOKEN_MAX_LEEWAY_SECONDS     300

enum authtoken_alg { AUTHTOKEN_HS256, AUTHTOKEN_RS256, AUTHTOKEN_ES256 };

enum authtoken_status {
    AUTHTOKEN_OK = 0,
    AUTHTOKEN_ERR_MALFORMED,        /* not three dot-separated parts, too long, bad typ/crit */
    AUTHTOKEN_ERR_BAD_BASE64,       /* a part is not unpadded base64url */
    AUTHTOKEN_ERR_BAD_JSON,         /* header or payload is not a JSON object */
    AUTHTOKEN_ERR_ALG_NONE,         /* header alg "none" (any case) */
    AUTHTOKEN_ERR_ALG_MISMATCH,     /* header alg is not the configured one */
    AUTHTOKEN_ERR_BAD_SIGNATURE,    /* signature does not verify with the configured key */
    AUTHTOKEN_ERR_EXPIRED,          /* now >= exp + leeway */
    AUTHTOKEN_ERR_NOT_YET_VALID,    /* now + leeway < nbf, or iat in the future */
    AUTHTOKEN_ERR_WRONG_ISSUER,     /* iss is not the configured issuer */
    AUTHTOKEN_ERR_WRONG_AUDIENCE,   /* aud does not contain the configured audience */
    AUTHTOKEN_ERR_MISSING_CLAIM,    /* sub, exp, iss, aud or jti missing or of the wrong type */
    AUTHTOKEN_ERR_BAD_CONFIG,       /* authtoken_keys_new: unusable configuration */
    AUTHTOKEN_ERR_NO_PRIVATE_KEY,   /* issuing with a verify-only configuration */
    AUTHTOKEN_ERR_INVALID_ARGUMENT, /* issuing: empty user id, a string not UTF-8, bad time */
    AUTHTOKEN_ERR_NO_MEMORY,
    AUTHTOKEN_ERR_INTERNAL, /* libjwt failed to sign */
};

struct authtoken_config {
    enum authtoken_alg alg;
    /* HS256: the shared secret (at least AUTHTOKEN_MIN_SECRET_LEN bytes). */
    const uint8_t *secret;
    size_t secret_len;
    /* RS256/ES256: PEM text. The public key is needed to verify; the private
     * key only to issue (NULL in services that only verify). */
    const char *private_key_pem;
    const char *public_key_pem;
    const char *issuer;     /* iss, required */
    const char *audience;   /* aud, required */
    int64_t ttl_seconds;    /* exp - iat of issued tokens, up to AUTHTOKEN_MAX_TTL_SECONDS;
                               0 means the default */
    int64_t leeway_seconds; /* clock skew allowed on exp/nbf/iat, 0..AUTHTOKEN_MAX_LEEWAY_SECONDS;
                               negative means the default */
};

/* Verified (or issued) claims; strings are malloc'd, released by authtoken_claims_clear(). */
struct authtoken_claims {
    char *sub;  /* user id */
    char *name; /* display name, "" when the token has none */
    char *jti;  /* unique token id */
    int64_t iat;
    int64_t nbf;
    int64_t exp;
};

struct authtoken_keys;

/*
 * Checks the configuration and copies what it needs (the caller may free the
 * config's strings afterwards). With a private key, a probe token is signed
 * and verified, so a mismatched pair, a key of the wrong type or a short RSA
 * key is found at start-up. Returns AUTHTOKEN_OK and *out (free with
 * authtoken_keys_free()), or AUTHTOKEN_ERR_BAD_CONFIG / _NO_MEMORY with a
 * reason in err.
 */
enum authtoken_status authtoken_keys_new(const struct authtoken_config *config,
                                         struct authtoken_keys **out, char *err, size_t errlen);
void authtoken_keys_free(struct authtoken_keys *keys);

/*
 * Issues a token for `user_id` (sub) and `name` (may be NULL) at time `now`
 * (seconds since the epoch): iat = nbf = now, exp = now + ttl, a random jti.
 * On AUTHTOKEN_OK *token is a malloc'd NUL-terminated string the caller frees
 * with free(), and *claims (when not NULL) what it says; release those with
 * authtoken_claims_clear().
 */
enum authtoken_status authtoken_issue(const struct authtoken_keys *keys, const char *user_id,
                                      const char *name, int64_t now, char **token,
                                      struct authtoken_claims *claims);

/*
 * Verifies `token` (len bytes) at time `now`. On AUTHTOKEN_OK, *claims holds
 * the token's claims (release with authtoken_claims_clear()); otherwise the
 * status says why and *claims is zeroed.
 */
enum authtoken_status authtoken_verify(const struct authtoken_keys *keys, const char *token,
                                       size_t len, int64_t now, struct authtoken_claims *claims);

void authtoken_claims_clear(struct authtoken_claims *claims);

/*
 * Reads a PEM key file (at most 64 KiB) into *pem, a malloc'd NUL-terminated
 * string the caller frees with free(). Returns 0, or -1 with a reason in err.
 */
int authtoken_read_key_file(const char *path, char **pem, char *err, size_t errlen);

/* Stable reason name for logs and metrics, e.g. "token_expired". */
const char *authtoken_status_name(enum authtoken_status status);

/* "HS256", "RS256" or "ES256". */
const char *authtoken_alg_name(enum authtoken_alg alg);

/* Parses "HS256"/"RS256"/"ES256" (exact case); -1 when unknown. */
int authtoken_alg_parse(const char *name, enum authtoken_alg *alg);

#endif
