#!/bin/sh
# Assembles, inside an image's build stage, the smallest root filesystem that runs Node 24 and our
# sources, for a final `FROM scratch` stage (the idea of a distroless base, built without pulling
# one): the C/C++ runtime libraries the node binary links (see `ldd node`), the dynamic loader,
# CA certificates, /bin/sh (dash, for the entry scripts), passwd/group entries for the fixed
# non-root user, /tmp, and the entry scripts. No package manager, no coreutils, no bash.
#   sh scripts/image-rootfs.sh <rootfs dir> '<name>=[node flags] <entry module>' [...]
set -eu
root=$1
shift
lib=/lib/x86_64-linux-gnu
mkdir -p "$root$lib" "$root/lib64" "$root/bin" "$root/etc/ssl/certs" "$root/usr/local/bin" "$root/tmp"
for so in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libstdc++.so.6 libgcc_s.so.1; do
  cp -L "$lib/$so" "$root$lib/$so"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
cp -L /bin/dash "$root/bin/sh"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\npixtral:x:65532:65532:pixtral:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\npixtral:x:65532:\n' >"$root/etc/group"
# glibc resolves localhost from /etc/hosts only when told to look there first.
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
cp -L /usr/local/bin/node "$root/usr/local/bin/node"
for entry in "$@"; do
  name=${entry%%=*}
  printf '#!/bin/sh\nexec /usr/local/bin/node %s "$@"\n' "${entry#*=}" >"$root/usr/local/bin/$name"
  chmod 0755 "$root/usr/local/bin/$name"
done
