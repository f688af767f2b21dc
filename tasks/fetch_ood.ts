/**
 * `deno task fetch-ood`: downloads the MOS paper's four OOD test sets (iNaturalist, SUN, Places
 * subsets from the authors' release; Textures from the DTD site), resumable, unpacked
 * all-or-nothing and checked for their image counts.
 *
 * @module
 */
import { NetworkError } from "../lib/download/http_download.ts";
import {
  findOodSet,
  installOodSet,
  OOD_SETS,
  type OodSetSpec,
  oodSetUrl,
} from "../lib/download/ood_sets.ts";
import { MosError, UsageError } from "../lib/errors.ts";
import { createProgress, type Progress } from "./_shared/progress.ts";
import { type FlagValues, runTask, type TaskSpec } from "./_shared/cli.ts";

const SPEC: TaskSpec = {
  name: "fetch-ood",
  summary: "Download and verify the paper's OOD sets (iNaturalist, SUN, Places, Textures).",
  usage: "deno task fetch-ood [--only inaturalist,textures] [--dest data/ood]",
  flags: {
    only: {
      type: "string",
      help: `NAMES  comma list of ${OOD_SETS.map((s) => s.key).join(", ")} (default: all)`,
    },
    dest: { type: "string", default: "data/ood", help: "DIR  each set goes to DIR/<Name>" },
    mirror: { type: "string", help: "URL  base URL serving the same archive file names" },
    "keep-archives": { type: "boolean", help: "keep the .tar.gz files (in DIR/.downloads)" },
  },
  notes: [
    ...OOD_SETS.map((s) =>
      `  ${s.name.padEnd(12)} ${String(s.images).padStart(5)} images  ${s.url}`
    ),
    "Sets already present and complete are skipped; interrupted downloads resume on rerun.",
    "A corrupt archive or a wrong image count leaves nothing behind (the archive is deleted).",
  ],
};

function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}

async function main(values: FlagValues): Promise<void> {
  const dest = (values.dest as string).replace(/\/+$/, "") || ".";
  const mirror = values.mirror as string | undefined;
  let sets: OodSetSpec[] = [...OOD_SETS];
  if (values.only !== undefined) {
    const names = String(values.only).split(",").map((s) => s.trim()).filter((s) => s !== "");
    sets = names.map((n) => {
      const s = findOodSet(n);
      if (!s) {
        throw new UsageError(
          `--only: unknown set "${n}"; choose from ${OOD_SETS.map((x) => x.key).join(", ")}`,
        );
      }
      return s;
    });
    if (sets.length === 0) throw new UsageError("--only is empty; name at least one set");
    sets = [...new Set(sets)];
  }
  for (const spec of sets) {
    const url = oodSetUrl(spec, mirror);
    let down: Progress | undefined;
    let unpack: Progress | undefined;
    try {
      const r = await installOodSet(spec, {
        dest,
        mirror,
        keepArchive: values["keep-archives"] === true,
        onDownload: (done, total) => {
          down ??= createProgress({
            label: `download ${spec.file}`,
            total: mb(total ?? done),
            unit: "MB",
            start: mb(done),
          });
          down.update(mb(done));
        },
        onUnpack: (read, total) => {
          if (!unpack) {
            down?.finish();
            down = undefined;
            unpack = createProgress({ label: `unpack ${spec.file}`, total: mb(total), unit: "MB" });
          }
          unpack.update(mb(read));
        },
      });
      down?.finish();
      unpack?.finish();
      console.log(
        `${spec.name}: ${r.images} images (${mb(r.bytes)} MB) in ${r.dir}` +
          (r.present ? " (already present, verified)" : "") +
          (r.download && r.download.resumedFrom > 0
            ? ` (download resumed at ${mb(r.download.resumedFrom)} MB)`
            : ""),
      );
    } catch (err) {
      if (err instanceof NetworkError) {
        throw new MosError(
          `${spec.name}: ${err.message}: fetch-ood needs internet access; run it on a machine ` +
            `that has it (partial downloads resume), or fetch ${url} by hand and unpack its ` +
            `${spec.root}/ folder to ${dest}/${spec.name}`,
        );
      }
      throw err;
    }
  }
}

if (import.meta.main) await runTask(SPEC, main);
