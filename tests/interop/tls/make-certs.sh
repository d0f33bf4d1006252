#!/bin/sh
# Makes a throwaway PKI for the wss:// tests in DIR, with the openssl command line tool:
#   ca.pem, ca.key          a test CA (trusted by the tests through --ca-file or the peers' options)
#   server.pem, server.key  a leaf signed by it for DNS:localhost and IP:127.0.0.1
#   wrong.pem, wrong.key    a leaf signed by it for DNS:other.example only (host name mismatch)
#   self.pem, self.key      a self-signed leaf for localhost/127.0.0.1 (not trusted)
#   server.spki             base64 SHA-256 of server.pem's public key (Chromium's SPKI list)
# usage: make-certs.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1 || { echo "make-certs: failed: $*" >&2; "$@"; exit 1; }; }

q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=libws test CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() { # leaf NAME SAN [self]
    q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$1.key" -out "$1.csr"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" \
        >"$1.ext"
    if [ "${3:-}" = self ]; then
        q openssl x509 -req -in "$1.csr" -signkey "$1.key" -days 2 -extfile "$1.ext" -out "$1.pem"
    else
        q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile "$1.ext" -out "$1.pem"
    fi
    rm -f "$1.csr" "$1.ext"
}
leaf server "DNS:localhost,IP:127.0.0.1"
leaf wrong "DNS:other.example"
leaf self "DNS:localhost,IP:127.0.0.1" self
openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | openssl base64 >server.spki
