#!/bin/sh
# Generates throwaway key pairs for the auth unit tests into $1 (created if
# needed), with the openssl CLI. Never used outside the tests.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
rsa() { # name bits
    openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.key" 2>/dev/null
    openssl pkey -in "$1.key" -pubout -out "$1.pub"
}
ec() { # name curve
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$1.key"
    openssl pkey -in "$1.key" -pubout -out "$1.pub"
}
rsa rsa_a 2048
rsa rsa_b 2048
rsa rsa_short 1024
ec ec_a P-256
ec ec_b P-256
ec ec_p384 P-384
