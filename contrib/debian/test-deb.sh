#!/usr/bin/env bash
# Installs a latchkey .deb of this machine's architecture on this machine, as root, and
# checks what an administrator relies on:
#
#   contrib/debian/test-deb.sh DEB
#
# - `dpkg -i` installs the binary, the unit, the conffile and the docs; the unit passes
#   `systemd-analyze verify`; a system user `latchkey` owns /var/lib/latchkey (0700);
#   the service is neither enabled nor running.
# - the latchkey user can add a user to /var/lib/latchkey with the installed binary.
# - /etc/default/latchkey leaves HTTPS off; `latchkey serve --tls` run as the latchkey
#   user makes its certificate and key (latchkey's, 0600) in /var/lib/latchkey/tls.
# - `dpkg -r` removes the binary and the unit and keeps the data and the conffile; a
#   reinstall finds the user again; `dpkg -P` deletes the data and the conffile.
# It refuses to run where latchkey is already installed or /var/lib/latchkey exists, so
# it never purges real data. A missing tool is a failure, not a skip.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DEB" >&2; exit 2; }
deb="$(realpath "$1")"
[ "$(id -u)" = 0 ] || { echo "deb-test: FAIL: must run as root" >&2; exit 1; }
for tool in dpkg dpkg-deb systemd-analyze runuser adduser; do
    command -v "$tool" >/dev/null || { echo "deb-test: FAIL: '$tool' is not installed" >&2; exit 1; }
done
if dpkg-query -W -f='${Status}' latchkey 2>/dev/null | grep -q installed || [ -e /var/lib/latchkey ]; then
    echo "deb-test: FAIL: latchkey is already installed here, or /var/lib/latchkey exists; not touching it" >&2
    exit 1
fi

passed=0
failed=0
check() { # NAME COMMAND...
    local name="$1"; shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "FAIL - $name"
    fi
}
installed() { dpkg-query -W -f='${Status}' latchkey 2>/dev/null | grep -q "$1"; }
cleanup() {
    if dpkg-query -W latchkey >/dev/null 2>&1; then
        dpkg -P latchkey >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

echo "deb-test: $(dpkg-deb -f "$deb" Package Version Architecture Depends | paste -sd' ')"
dpkg-deb -c "$deb" >/tmp/latchkey-deb-contents.$$
for f in ./usr/bin/latchkey ./lib/systemd/system/latchkey.service ./etc/default/latchkey \
         ./usr/share/doc/latchkey/copyright ./usr/share/doc/latchkey/DEPLOY.md \
         ./usr/share/doc/latchkey/README.md ./usr/share/doc/latchkey/changelog.Debian.gz; do
    check "package contains $f" grep -q " $f\$" /tmp/latchkey-deb-contents.$$
done
check "package files belong to root" sh -c "! awk '{print \$2}' /tmp/latchkey-deb-contents.$$ | grep -qv '^root/root\$'"
rm -f /tmp/latchkey-deb-contents.$$

dpkg -i "$deb"
check "dpkg -i installs the package" installed 'install ok installed'
check "the binary runs" sh -c '/usr/bin/latchkey --version | grep -q "^latchkey "'
check "the unit passes systemd-analyze verify" \
    sh -c 'out=$(systemd-analyze verify /lib/systemd/system/latchkey.service 2>&1) && [ -z "$out" ] || { echo "$out" | sed "s/^/  /"; false; }'
check "the unit runs the packaged binary as the latchkey user" \
    sh -c 'grep -qx "ExecStart=/usr/bin/latchkey serve --data-dir /var/lib/latchkey" /lib/systemd/system/latchkey.service &&
           grep -qx "User=latchkey" /lib/systemd/system/latchkey.service'
check "a system user latchkey exists" sh -c 'uid=$(id -u latchkey) && [ "$uid" -lt 1000 ]'
check "/var/lib/latchkey is latchkey's, mode 0700" \
    sh -c '[ "$(stat -c %U:%G:%a /var/lib/latchkey)" = latchkey:latchkey:700 ]'
check "the service is not enabled" \
    sh -c '! find /etc/systemd/system -name latchkey.service | grep -q . && [ "$(systemctl is-enabled latchkey.service 2>/dev/null || true)" != enabled ]'
check "the service is not running" sh -c '! pgrep -f "^/usr/bin/latchkey serve" >/dev/null'
check "the conffile is registered" sh -c 'dpkg-query -W -f="\${Conffiles}" latchkey | grep -q "/etc/default/latchkey"'

echo 'a long deb-test passphrase' | runuser -u latchkey -- /usr/bin/latchkey user add debtest \
    --password-stdin --data-dir /var/lib/latchkey
check "the latchkey user adds a user to /var/lib/latchkey" \
    sh -c 'runuser -u latchkey -- /usr/bin/latchkey user list --data-dir /var/lib/latchkey | grep -qx debtest'

# HTTPS is off unless the administrator turns it on; when on, the service user can make
# its certificate in the data directory (the unit's only writable path).
check "/etc/default/latchkey leaves TLS off" sh -c '! grep -q "^LATCHKEY_TLS" /etc/default/latchkey'
tls_log="$(mktemp)"
runuser -u latchkey -- /usr/bin/latchkey serve --tls --listen 127.0.0.1:0 \
    --data-dir /var/lib/latchkey 2>"$tls_log" &
tls_pid=$!
for _ in $(seq 1 300); do
    grep -q 'listening on https://' "$tls_log" && break
    kill -0 "$tls_pid" 2>/dev/null || break
    sleep 0.1
done
if grep -q 'built without tls' "$tls_log"; then
    echo "deb-test: this latchkey was built without the tls feature: HTTPS not tested"
else
    check "latchkey serve --tls as the latchkey user listens on HTTPS" grep -q 'listening on https://' "$tls_log"
    check "its certificate and key are the latchkey user's, key 0600, in /var/lib/latchkey/tls" \
        sh -c '[ "$(stat -c %U:%a /var/lib/latchkey/tls/key.pem)" = latchkey:600 ] &&
               [ "$(stat -c %U /var/lib/latchkey/tls/cert.pem)" = latchkey ]'
fi
kill -TERM "$tls_pid" 2>/dev/null || true
wait "$tls_pid" 2>/dev/null || true
rm -f "$tls_log"

dpkg -r latchkey
check "dpkg -r leaves the package in config-files state" installed 'deinstall ok config-files'
check "dpkg -r removes the binary and the unit" \
    sh -c '[ ! -e /usr/bin/latchkey ] && [ ! -e /lib/systemd/system/latchkey.service ]'
check "dpkg -r keeps /var/lib/latchkey and its users" \
    sh -c 'ls /var/lib/latchkey | grep -q . && [ "$(stat -c %U /var/lib/latchkey)" = latchkey ]'
check "dpkg -r keeps /etc/default/latchkey" test -f /etc/default/latchkey

dpkg -i "$deb"
check "a reinstall finds the old users" \
    sh -c 'runuser -u latchkey -- /usr/bin/latchkey user list --data-dir /var/lib/latchkey | grep -qx debtest'

dpkg -P latchkey
check "dpkg -P removes the package" sh -c '! dpkg-query -W latchkey >/dev/null 2>&1'
check "dpkg -P deletes /var/lib/latchkey" test ! -e /var/lib/latchkey
check "dpkg -P deletes /etc/default/latchkey" test ! -e /etc/default/latchkey
check "dpkg -P leaves no file of the package" \
    sh -c '[ ! -e /usr/bin/latchkey ] && [ ! -e /usr/share/doc/latchkey ] && [ ! -e /lib/systemd/system/latchkey.service ]'

echo "deb-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
