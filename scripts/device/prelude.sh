# Sourced at the start of a command on the lent GPU machine (scripts/device/README.md), from the repository root,
# with .dev and .gl carried. Leaves $SF = the project's CLI (`$SF pretrain shapes ...`) on Dawn over the GPU's
# Vulkan driver (--adapter default).
unxz_to() { xz -dc "$1" > "$2" 2>/dev/null || python3 -c 'import lzma,sys; open(sys.argv[2],"wb").write(lzma.open(sys.argv[1]).read())' "$1" "$2"; }
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$nvidia_icd" ] && export VK_DRIVER_FILES="$nvidia_icd"
unxz_to .dev/node.xz /tmp/node && chmod +x /tmp/node
dawn=.dev/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || unxz_to "$dawn.xz" "$dawn"
SF="/tmp/node .dev/cli/entry.mjs"
/tmp/node --version && nvidia-smi -L
