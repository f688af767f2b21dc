/**
 * `deno task fetch-ood`: downloads the MOS paper's four OOD test sets (iNaturalist, SUN, Places
 * subsets from the authors' release; Textures from the DTD site), resumable, size-capped and
 * time-limited, unpacked all-or-nothing within bounds derived from each set's image count, and
 * checked for their image counts. `--dest` is locked for the run.
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
import { UsageError } from "../lib/errors.ts";
import { createProgress, type Progress } from "./_shared/progress.ts";
import { defineTask, type FlagValuesOf, runTask } from "./_shared/cli.ts";
import { downloadFailure, downloadFlags, TIME_FLAGS } from "./_shared/download_flags.ts";
import { withResultDir } from "./_shared/result_dir.ts";

const SPEC = defineTask({
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
    ...TIME_FLAGS,
  },
  notes: [
    ...OOD_SETS.map((s) =>
      `  ${s.name.padEnd(12)} ${String(s.images).padStart(5)} images  ${s.url}`
    ),
    "Sets already present and complete are skipped; interrupted downloads resume on rerun.",
    "A corrupt archive or a wrong image count leaves nothing behind (an archive it downloaded is deleted).",
    "An archive that unpacks to more than its set can hold (about 2 MiB per image) is refused.",
  ],
});

type Values = FlagValuesOf<typeof SPEC.flags>;

function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}

async function main(values: Values): Promise<void> {
  const dest = values.dest.replace(/\/+$/, "") || ".";
  const flags = downloadFlags(values);
  let sets: OodSetSpec[] = [...OOD_SETS];
  if (values.only !== undefined) {
    const names = values.only.split(",").map((s) => s.trim()).filter((s) => s !== "");
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
  // One deadline for every download of the run: --time-limit bounds the whole command.
  const deadline = Date.now() + flags.timeLimitMs;
  await withResultDir(
    dest,
    { purpose: "fetch-ood", inputs: flags.inputs, flag: "--dest" },
    async () => {
      for (const spec of sets) await installOne(spec, dest, values, flags, deadline);
    },
  );
}

async function installOne(
  spec: OodSetSpec,
  dest: string,
  values: Values,
  flags: ReturnType<typeof downloadFlags>,
  deadline: number,
): Promise<void> {
  const url = oodSetUrl(spec, flags.mirror);
  let down: Progress | undefined;
  let unpack: Progress | undefined;
  try {
    const r = await installOodSet(spec, {
      dest,
      mirror: flags.mirror,
      sourceHint: "the URL or --mirror",
      keepArchive: values["keep-archives"],
      idleTimeoutMs: flags.stallMs,
      timeLimitMs: deadline - Date.now(),
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
      throw downloadFailure(
        err,
        flags,
        "fetch-ood",
        `fetch ${url} by hand and unpack its ${spec.root}/ folder to ${dest}/${spec.name}`,
        `${spec.name}: `,
      );
    }
    throw err;
  }
}

if (import.meta.main) await runTask(SPEC, main);
