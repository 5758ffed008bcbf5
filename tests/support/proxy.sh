#!/bin/sh
# proxy.sh - run a real proxy for the proxy tests, in the foreground, from a
# directory of its own (its configuration and log are written there).
#
#   proxy.sh danted DIR PORT USER PASS DENY_PORT
#       Debian's danted (dante-server), SOCKS5 on 127.0.0.1:PORT.  USER "-":
#       no authentication; else only RFC 1929 user/password, for that one
#       user.  DENY_PORT (0: none): a rule refuses CONNECTs to 127.0.0.1 on
#       that port (SOCKS5 reply 2).
#   proxy.sh tinyproxy DIR PORT USER PASS [ALLOWED_PORT...]
#       tinyproxy, HTTP CONNECT on 127.0.0.1:PORT.  USER "-": no
#       authentication; else Basic credentials required (tinyproxy takes
#       letters, digits, '.', '-' and '_' in them).  CONNECT is allowed to
#       the ports listed only.
#
# danted checks user names and passwords against the system's users
# (getpwnam / getspnam and crypt).  So as not to touch the machine's users
# it runs in a user and mount namespace of its own (`unshare -rm`, as root
# or not) where a passwd and shadow made here are bind-mounted over
# /etc/passwd and /etc/shadow: the proxy user exists for that danted only.
# Its /etc/hosts there also names broker.proxy-side.test (127.0.0.1), a
# name nothing else resolves: a connection to it proves the proxy got the
# name (socks5h).  Being "root" in the namespace lets it run its privileged
# set-up for a normal user too.
set -eu
kind=$1 dir=$2 port=$3 user=$4 pass=$5
shift 5
cd "$dir"
case $kind in
danted)
  deny=$1
  method=none
  [ "$user" = - ] || method=username
  {
    echo "logoutput: $dir/danted.log"
    echo "internal: 127.0.0.1 port = $port"
    echo "external: 127.0.0.1"
    echo "clientmethod: none"
    echo "socksmethod: $method"
    # "root" inside the namespace: no uid switching there
    echo "user.privileged: root"
    echo "user.unprivileged: root"
    echo "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }"
    if [ "$deny" != 0 ]; then
      printf 'socks block { from: 0.0.0.0/0 to: 127.0.0.1/32 port = %s\n log: connect\n}\n' "$deny"
    fi
    printf 'socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0\n command: connect\n log: connect disconnect error\n}\n'
  } > danted.conf
  { cat /etc/hosts; echo "127.0.0.1 broker.proxy-side.test"; } > hosts
  cp /etc/passwd passwd
  : > shadow
  if [ "$user" != - ]; then
    echo "$user:x:65534:65534::/nonexistent:/usr/sbin/nologin" >> passwd
    printf '%s:%s:19000:0:99999:7:::\n' "$user" "$(openssl passwd -6 "$pass")" > shadow
  fi
  exec unshare -rm /bin/sh -c '
    mount --bind hosts /etc/hosts
    mount --bind passwd /etc/passwd
    mount --bind shadow /etc/shadow
    exec /usr/sbin/danted -f "$1/danted.conf"' danted "$dir"
  ;;
tinyproxy)
  {
    echo "Port $port"
    echo "Listen 127.0.0.1"
    echo "Timeout 30"
    echo "MaxClients 50"
    echo "LogFile \"$dir/tinyproxy.log\""
    echo "LogLevel Connect"
    echo "Allow 127.0.0.1"
    [ "$user" = - ] || echo "BasicAuth $user $pass"
    # with no ConnectPort line tinyproxy allows every port: 9 (discard)
    # keeps the list from being empty
    echo "ConnectPort 9"
    for p in "$@"; do echo "ConnectPort $p"; done
  } > tinyproxy.conf
  exec /usr/bin/tinyproxy -d -c "$dir/tinyproxy.conf"
  ;;
*)
  echo "proxy.sh: danted or tinyproxy, not $kind" >&2
  exit 2
  ;;
esac
