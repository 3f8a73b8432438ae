import { sandboxUp, sandboxDown } from "/work/main/sandbox";
import { mustScript, readBenchFile, sandboxScript } from "/work/main/bench/lib/commands";
const name = "benchan3";
const reset = readBenchFile("remote", "migration-reset.sh");
const rv = { SOURCE: "/var/lib/ds", KEEP_AT: "/var/lib/ds.keep", STATE_DIR: "/var/lib/x", TOP: "/mnt/medias", SUBVOLUMES: "@t", COMPRESSION: "zstd" };
const variants: Record<string, string> = {
  "plain rsync -aHAX": 'rsync -aHAX /var/lib/ds/ /mnt/medias/@t/',
  "program's options, no progress": "rsync -aHAX --numeric-ids --delete --sparse --filter='-x btrfs.compression' --no-inc-recursive /var/lib/ds/ /mnt/medias/@t/",
  "program's options, progress2 to /dev/null": "rsync -aHAX --numeric-ids --delete --sparse --filter='-x btrfs.compression' --info=progress2 --no-inc-recursive /var/lib/ds/ /mnt/medias/@t/ >/dev/null",
  "-aHAX --sparse only": "rsync -aHAX --sparse /var/lib/ds/ /mnt/medias/@t/",
  "program's pipeline (progress loop)": `set -o pipefail; rsync -aHAX --numeric-ids --delete --sparse --filter='-x btrfs.compression' --info=progress2 --no-inc-recursive /var/lib/ds/ /mnt/medias/@t/ | tr '\\r' '\\n' | while IFS= read -r line; do line=$(echo "$line" | tr -s ' '); [ -n "\${line// /}" ] && echo "progress: copying:$line" >&2; done; echo lines`,
};
(async () => {
  try {
    await sandboxUp(name, { size: "1536M" });
    await mustScript(name, "dataset", 'set -euo pipefail\npython3 -c "$G" /var/lib/ds 300', { G: readBenchFile("remote", "make-dataset.py") });
    const times: Record<string, number[]> = {};
    for (let i = 0; i < 3; i++) for (const [k, cmd] of Object.entries(variants)) {
      await mustScript(name, "reset", reset, rv);
      const r = await sandboxScript(name, cmd);
      if (r.code !== 0) throw new Error(`${k}: ${r.stderr}`);
      (times[k] ??= []).push(r.seconds);
      if (k.includes("loop") && i === 0) console.log("progress lines on stderr:", r.stderr.split("\n").length);
    }
    for (const [k, v] of Object.entries(times)) console.log(k.padEnd(45), v.map((x) => x.toFixed(2)).join(" "));
  } finally { await sandboxDown(name); }
})();
