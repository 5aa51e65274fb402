#!/usr/bin/env bash
# Builds the Debian package of latchkey with dpkg-deb (no debhelper, no network):
#
#   contrib/debian/build-deb.sh ARCH [BINARY]
#
# ARCH is amd64, arm64 or armhf. Without BINARY, amd64 uses `cargo build --release` and
# arm64/armhf the glibc cross builds of contrib/cross/build.sh (Pi OS bookworm). Give a
# static musl BINARY (contrib/cross/build.sh aarch64-unknown-linux-musl) for a package
# that also installs on older releases such as Pi OS bullseye: the libc dependency is
# read from the binary itself. Prints the path of the .deb (under target/deb/).
#
# Contents: /usr/bin/latchkey; /lib/systemd/system/latchkey.service, made from
# contrib/systemd/latchkey.service with the package's binary path and a static system
# user `latchkey` in place of DynamicUser; /etc/default/latchkey (conffile, all
# commented); README, DEPLOY and DEVICES docs. Installing creates the user and
# /var/lib/latchkey and starts nothing; removing keeps the data; purging deletes it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

[ $# -ge 1 ] || { echo "usage: $0 amd64|arm64|armhf [BINARY]" >&2; exit 2; }
arch="$1"
case "$arch" in
    amd64) target="" ;;
    arm64) target=aarch64-unknown-linux-gnu ;;
    armhf) target=armv7-unknown-linux-gnueabihf ;;
    *) echo "$0: unknown architecture '$arch' (amd64, arm64, armhf)" >&2; exit 2 ;;
esac
for tool in dpkg-deb readelf gzip md5sum; do
    command -v "$tool" >/dev/null || { echo "$0: '$tool' is not installed" >&2; exit 1; }
done

if [ $# -ge 2 ]; then
    bin="$(realpath "$2")"
elif [ -z "$target" ]; then
    cargo build --locked --release >&2
    bin="$root/target/release/latchkey"
else
    bin="$(bash contrib/cross/build.sh "$target" | tail -1 | cut -d' ' -f1)"
fi
[ -x "$bin" ] || { echo "$0: no executable at $bin" >&2; exit 1; }

# The binary must be of the package's architecture.
machine="$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')"
case "$arch:$machine" in
    amd64:*X86-64*|arm64:AArch64|armhf:ARM) ;;
    *) echo "$0: $bin is for '$machine', not $arch" >&2; exit 1 ;;
esac

# Dependencies from the dynamic section: the newest glibc symbol version it asks for.
depends=(adduser)
for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$lib" in
        libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|ld-linux*)
            glibc="$(readelf -W --dyn-syms "$bin" | grep -o '@GLIBC_[0-9.]*' | cut -d_ -f2 | sort -uV | tail -1)"
            depends+=("libc6 (>= $glibc)") ;;
        libgcc_s.so.1) depends+=("libgcc-s1") ;;
        *) echo "$0: $bin needs $lib, which this script does not map to a package" >&2; exit 1 ;;
    esac
done
depends_line="$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, | sed 's/,/, /g')"

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)-1"
pkg="$root/target/deb/root-$arch"
rm -rf "$pkg"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/default" \
    "$pkg/usr/share/doc/latchkey"

install -m 0755 "$bin" "$pkg/usr/bin/latchkey"

unit="$pkg/lib/systemd/system/latchkey.service"
{
    echo "# latchkey as a hardened systemd service (Debian package; source: contrib/systemd/)."
    echo "# Installed, not enabled: add a user, then \`systemctl enable --now latchkey\`."
    echo "# Settings: /etc/default/latchkey. Users are managed as the service's user:"
    echo "#   echo 'a long passphrase' | sudo -u latchkey latchkey user add alice --password-stdin \\"
    echo "#       --data-dir /var/lib/latchkey"
    echo "# Without users, the first start creates \`admin\` and logs its password once:"
    echo "#   journalctl -u latchkey | grep 'first run'"
    echo
    # The upstream unit without its header comments, for the package's paths and user.
    sed -n '/^\[Unit\]/,$p' contrib/systemd/latchkey.service \
        | sed -e 's|/usr/local/bin/latchkey|/usr/bin/latchkey|' \
              -e 's|^DynamicUser=yes$|User=latchkey\nGroup=latchkey|' \
              -e 's|^# A throwaway user; |# The latchkey system user; |'
} >"$unit"
for want in '^ExecStart=/usr/bin/latchkey serve ' '^User=latchkey$' '^StateDirectory=latchkey$'; do
    grep -q "$want" "$unit" || { echo "$0: packaged unit lacks /$want/ (did contrib/systemd/latchkey.service change?)" >&2; exit 1; }
done
if grep -q '^DynamicUser=' "$unit"; then
    echo "$0: packaged unit still has DynamicUser" >&2; exit 1
fi
chmod 0644 "$unit"

install -m 0644 contrib/debian/default "$pkg/etc/default/latchkey"
doc="$pkg/usr/share/doc/latchkey"
install -m 0644 README.md docs/DEPLOY.md "$doc/"
[ -f docs/DEVICES.md ] && install -m 0644 docs/DEVICES.md "$doc/"
install -m 0644 contrib/debian/copyright "$doc/copyright"
printf 'latchkey (%s) unstable; urgency=medium\n\n  * Package built from the latchkey source tree (%s).\n\n -- latchkey developers <latchkey@invalid>  %s\n' \
    "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

for script in postinst prerm postrm; do
    install -m 0755 "contrib/debian/$script" "$pkg/DEBIAN/$script"
done
echo /etc/default/latchkey >"$pkg/DEBIAN/conffiles"
size_kib="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
cat >"$pkg/DEBIAN/control" <<EOF
Package: latchkey
Version: $version
Architecture: $arch
Maintainer: latchkey developers <latchkey@invalid>
Installed-Size: $size_kib
Depends: $depends_line
Section: web
Priority: optional
Description: tiny HTTP login and token service for a device's admin page
 latchkey guards the admin page of a Raspberry Pi or a router: a login form with
 session cookies, Flask-JWT style tokens, and forward authentication for nginx
 (auth_request), Caddy (forward_auth) and Traefik, in one small binary.
 .
 The package installs the systemd unit but neither enables nor starts it.
EOF
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) \
    >"$pkg/DEBIAN/md5sums"

out="$root/target/deb/latchkey_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
echo "deb: $out ($(stat -c %s "$out") bytes; Depends: $depends_line)" >&2
echo "$out"
