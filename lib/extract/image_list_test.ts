import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import {
  compareCodePoints,
  folderLabels,
  listHash,
  listImageFolder,
  parseImageList,
  readImageList,
} from "./image_list.ts";

async function touch(path: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, new Uint8Array(0));
}

Deno.test("listImageFolder: torchvision order (walk dirs by full path, files sorted) and labels", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (
      const p of [
        "b/z.jpg",
        "b/a.PNG",
        "b/sub/c.jpg",
        "b/sub/deep/e.jpg",
        "b/sub-x/d.jpg",
        "a/1.jpeg",
        "a/readme.txt",
        "c/x.webp",
      ]
    ) await touch(`${root}/${p}`);
    const list = await listImageFolder(root);
    assert.equal(list.layout, "imagefolder");
    assert.deepEqual(list.classes, ["a", "b", "c"]);
    // Python's sorted(os.walk()) orders directories by path: "b/sub" < "b/sub-x" < "b/sub/deep"
    // ('-' is 0x2d, '/' 0x2f), not depth-first.
    assert.deepEqual(list.entries, [
      { path: "a/1.jpeg", label: 0 },
      { path: "b/a.PNG", label: 1 },
      { path: "b/z.jpg", label: 1 },
      { path: "b/sub/c.jpg", label: 1 },
      { path: "b/sub-x/d.jpg", label: 1 },
      { path: "b/sub/deep/e.jpg", label: 1 },
      { path: "c/x.webp", label: 2 },
    ]);
    assert.equal(list.ignored, 1);
    await touch(`${root}/stray.jpg`);
    await assert.rejects(listImageFolder(root), DataError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("listImageFolder: a flat folder has labels -1", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const p of ["b.jpg", "a.png", "c.txt"]) await touch(`${root}/${p}`);
    const list = await listImageFolder(root);
    assert.equal(list.layout, "flat");
    assert.deepEqual(list.entries, [{ path: "a.png", label: -1 }, { path: "b.jpg", label: -1 }]);
    assert.equal(list.ignored, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("parseImageList: labels, tabs, spaces in names, comments; keeps file order", () => {
  const text =
    "# comment\nb/x.jpg 3\n\na/y.jpg\nc/with space.jpg\t7\nd/img 2.jpg -1\n./e/./f.png\n";
  assert.deepEqual(parseImageList(text, "l.txt"), [
    { path: "b/x.jpg", label: 3 },
    { path: "a/y.jpg", label: -1 },
    { path: "c/with space.jpg", label: 7 },
    { path: "d/img 2.jpg", label: -1 },
    { path: "e/f.png", label: -1 },
  ]);
});

Deno.test("parseImageList: duplicates, escapes and absolute paths are DataErrors naming the line", () => {
  const cases: [string, RegExp][] = [
    ["a.jpg 1\nb.jpg\n./a.jpg 2\n", /l\.txt line 3: .*duplicates line 1/],
    ["a.jpg\n../secret.jpg\n", /l\.txt line 2: .*leaves image root/],
    ["x/../../b.jpg\n", /line 1/],
    ["a.jpg\n/etc/passwd\n", /l\.txt line 2: .*absolute/],
    ["a.jpg\tcat\n", /line 1: label "cat"/],
    ["a.jpg -5\n", /line 1: label -5/],
    ["# only a comment\n", /lists no images/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseImageList(text, "l.txt"),
      (e: unknown) => e instanceof DataError && re.test(e.message),
    );
  }
});

Deno.test("readImageList: missing list or root is a DataError", async () => {
  await assert.rejects(readImageList("/nonexistent/list.txt", "/tmp"), DataError);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/l.txt`, "a.jpg\n");
    await assert.rejects(readImageList(`${dir}/l.txt`, `${dir}/nope`), DataError);
    assert.equal((await readImageList(`${dir}/l.txt`, dir)).entries.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compareCodePoints and listHash", () => {
  // U+FF5E (one UTF-16 unit) sorts after U+1F600 (a surrogate pair) in JS but before it in Python.
  assert.ok(compareCodePoints("\uff5e", "\u{1f600}") < 0);
  assert.ok("\uff5e" > "\u{1f600}");
  assert.equal(compareCodePoints("ab", "ab"), 0);
  assert.ok(compareCodePoints("a", "ab") < 0);
  const a = [{ path: "x.jpg", label: 1 }];
  assert.notEqual(listHash(a), listHash([{ path: "x.jpg", label: 2 }]));
  assert.equal(listHash(a), listHash([{ path: "x.jpg", label: 1 }]));
});

Deno.test("listImageFolder: wnid folders take their ImageNet-1k index; a subset keeps it", async () => {
  const root = await Deno.makeTempDir();
  try {
    // tench (index 0), goldfish (1) and toilet tissue (999) of data/imagenet1k_classes.tsv; a
    // subset of three folders, which sorted folder order would label 0, 1, 2.
    for (const p of ["n01440764/a.jpg", "n15075141/b.png", "n01443537/c.jpg"]) {
      await touch(`${root}/${p}`);
    }
    const list = await listImageFolder(root);
    assert.deepEqual(list.entries.map((e) => [e.path, e.label]), [
      ["n01440764/a.jpg", 0],
      ["n01443537/c.jpg", 1],
      ["n15075141/b.png", 999],
    ]);
    assert.equal(list.labelOrder, "imagenet1k");
    const none = await listImageFolder(root, { unlabeled: true });
    assert.deepEqual(none.entries.map((e) => e.label), [-1, -1, -1]);
    assert.equal(none.labelOrder, undefined);
    // One non-wnid folder: sorted order for all.
    await touch(`${root}/extra/d.jpg`);
    const mixed = await listImageFolder(root);
    assert.deepEqual(mixed.entries.map((e) => e.label), [0, 1, 2, 3]);
    assert.equal(mixed.labelOrder, "sorted folders");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("folderLabels: a wnid outside the table is a DataError naming the folder", async () => {
  const table = new Map([["n00000001", 7], ["n00000002", 3]]);
  assert.deepEqual(await folderLabels("/r", ["n00000001", "n00000002"], table), {
    labels: [7, 3],
    order: "imagenet1k",
  });
  assert.deepEqual(await folderLabels("/r", ["cat", "dog"], table), {
    labels: [0, 1],
    order: "sorted folders",
  });
  await assert.rejects(folderLabels("/r", ["n00000001", "n09999999"], table), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /image folder \/r: folder n09999999 is a WordNet id but not one of/);
    return true;
  });
});

Deno.test("image lists: library messages name the data, a caller's labels replace the nouns", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(listImageFolder(`${dir}/nope`), {
      name: "DataError",
      message: `image folder ${dir}/nope is not a directory; pass the dataset root folder`,
    });
    await assert.rejects(listImageFolder(`${dir}/nope`, { labels: { images: "--images" } }), {
      message: `--images ${dir}/nope is not a directory; pass the dataset root folder`,
    });
    await assert.rejects(readImageList(`${dir}/l.txt`, dir), {
      message: `image list ${dir}/l.txt not found`,
    });
    await Deno.writeTextFile(`${dir}/l.txt`, "a.jpg\n");
    await assert.rejects(readImageList(`${dir}/l.txt`, `${dir}/nope`), {
      message: `image root ${dir}/nope is not a directory`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => parseImageList("../x.jpg\n", "l.txt"), {
    message: 'l.txt line 1: "../x.jpg" is absolute or leaves image root; list paths relative ' +
      "to image root",
  });
  const table = new Map([["n00000001", 0]]);
  await assert.rejects(
    folderLabels("/r", ["n09999999"], table),
    (e: unknown) =>
      e instanceof DataError && e.message.startsWith("image folder /r: folder n09999999") &&
      e.message.endsWith("; give explicit labels in an image list, or extract it unlabeled") &&
      !/--/.test(e.message),
  );
});
