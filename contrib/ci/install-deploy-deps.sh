#!/usr/bin/env bash
# Installs what the deployment tests use (tests/it/deployment/: nginx, caddy, browser,
# fail2ban, packaging, openwrt) and the HTTPS tests (tests/it/tls/): Debian's nginx,
# caddy, chromium (+ fonts for legible screenshots), fail2ban, testssl.sh, Node.js with
# npm, playwright-core from the committed tests/browser/package-lock.json, and the small
# tools the tests call (curl, openssl, make, shellcheck, systemd-analyze). Idempotent;
# run as root (CI is):
#   sudo bash contrib/ci/install-deploy-deps.sh
# Without these a deployment test prints `SKIP: <test>: <why>` and passes on a developer's
# machine, and fails where CI is set: this script is what makes them real.
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

# Debian's testssl.sh package installs the script as /usr/bin/testssl.
packages=(nginx caddy chromium fonts-liberation fonts-dejavu-core fail2ban
          curl openssl make shellcheck testssl.sh)
# systemd-analyze verifies the unit; a container may lack systemd, which it is part of.
command -v systemd-analyze >/dev/null || packages+=(systemd)
# Node.js may already be there from another source whose nodejs bundles npm; Debian's
# npm package would conflict with it, so only ask for what is missing.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
# --no-install-recommends: chromium and fail2ban recommend a desktop's worth of packages.
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# Debian starts services on install where it can; the tests run their own, on free ports.
for service in nginx caddy fail2ban; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
        systemctl stop "$service" || true
    fi
done

# playwright-core drives the system chromium; it downloads no browser of its own.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

echo "deploy test dependencies: $(nginx -v 2>&1 | cut -d' ' -f3), caddy $(caddy version | cut -d' ' -f1)," \
     "$(chromium --version 2>/dev/null | cut -d' ' -f1-2), testssl.sh $(dpkg-query -W -f '${Version}' testssl.sh), fail2ban $(fail2ban-client --version | grep -o '[0-9.]*$')," \
     "node $(node --version), playwright-core $(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version")"
