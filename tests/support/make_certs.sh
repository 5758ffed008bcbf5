#!/bin/sh
# make_certs.sh DIR - the certificates the TLS tests need, made fresh in DIR
# with the openssl command line (EC P-256 keys: quick to make).
#
#   ca.crt / ca.key              the test CA
#   other-ca.crt                 a CA that signed nothing here ("unknown CA")
#   server.crt / server.key      CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   wrongname.crt                same key, SAN DNS:elsewhere.example, IP:10.9.8.7 only
#   expired.crt                  same key and names, notAfter in the past
#   client.crt / client.key      a client certificate from the CA
#   client-enc.key               client.key encrypted with the passphrase "s3cret"
#   client.der / client-key.der  the same in DER
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ec ca.key
openssl req -x509 -new -key ca.key -subj "/CN=lunamq test CA" -days 2 -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
ec other-ca.key
openssl req -x509 -new -key other-ca.key -subj "/CN=lunamq other CA" -days 2 -out other-ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# sign NAME KEY CN SAN DAYS: NAME.crt from a request for KEY, signed by ca
sign() {
  openssl req -new -key "$2" -subj "/CN=$3" -out "$1.csr"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$4" "$6" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$5" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ec server.key
sign server server.key localhost "DNS:localhost,IP:127.0.0.1,IP:::1" 2 serverAuth
sign wrongname server.key elsewhere.example "DNS:elsewhere.example,IP:10.9.8.7" 2 serverAuth
# openssl 3.0 x509 takes -days down to -1: valid from now, expired a day ago.
sign expired server.key localhost "DNS:localhost,IP:127.0.0.1,IP:::1" -1 serverAuth

ec client.key
sign client client.key lunamq-client "DNS:lunamq-client" 2 clientAuth
openssl pkey -in client.key -aes256 -passout pass:s3cret -out client-enc.key
openssl x509 -in client.crt -outform DER -out client.der
openssl pkey -in client.key -outform DER -out client-key.der
