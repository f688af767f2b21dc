import assert from "node:assert/strict";
import { DataError } from "../errors.ts";
import {
  type MetricRow,
  METRICS_HEADER,
  metricsCsv,
  metricsCsvOrder,
  parseMetricsCsv,
} from "./metric_row.ts";

const row = (method: string, dataset: string, v: number[]): MetricRow => ({
  method,
  dataset,
  auroc: v[0],
  fpr95: v[1],
  aupr_in: v[2],
  aupr_out: v[3],
});

Deno.test("metricsCsv: header, 4 decimals, NaN written as NaN", () => {
  const text = metricsCsv([
    row("msp", "sun", [87.5, 63.25, 97.123456, 40]),
    row("mos", "id", [NaN, 1, 2, 3]),
  ]);
  assert.equal(
    text,
    "method,dataset,auroc,fpr95,aupr_in,aupr_out\n" +
      "msp,sun,87.5000,63.2500,97.1235,40.0000\n" +
      "mos,id,NaN,1.0000,2.0000,3.0000\n",
  );
  assert.equal(text.split("\n")[0], METRICS_HEADER.join(","));
});

Deno.test("parseMetricsCsv reads what metricsCsv writes (4-decimal rounding, NaN as missing)", () => {
  const rows = [
    row("msp", "inaturalist", [87.5, 63.25, 97.1, 40]),
    row("mos", "sun", [NaN, 0.00004, 98, 60]),
  ];
  const back = parseMetricsCsv(metricsCsv(rows));
  assert.deepEqual(back[0], rows[0]);
  assert.ok(Number.isNaN(back[1].auroc));
  assert.deepEqual([back[1].fpr95, back[1].aupr_in, back[1].aupr_out], [0, 98, 60]);
});

Deno.test("parseMetricsCsv: NaN and empty fields as missing, clear errors", () => {
  const text = "method,dataset,auroc,fpr95,aupr_in,aupr_out\n" +
    "msp,inaturalist,87.5,63.25,97.1,40\nmos,sun,NaN,,98,60\n";
  const parsed = parseMetricsCsv(text);
  assert.deepEqual(parsed[0], row("msp", "inaturalist", [87.5, 63.25, 97.1, 40]));
  assert.ok(Number.isNaN(parsed[1].auroc) && Number.isNaN(parsed[1].fpr95));
  assert.equal(parsed[1].aupr_in, 98);
  assert.throws(
    () => parseMetricsCsv("method,dataset,auroc\n", "out/metrics.csv"),
    (e) => e instanceof DataError && /out\/metrics\.csv: header must be/.test(e.message),
  );
  assert.throws(
    () => parseMetricsCsv("method,dataset,auroc,fpr95,aupr_in,aupr_out\nmsp,sun,x,1,2,3\n"),
    /line 2: auroc "x" is not a number/,
  );
  assert.throws(
    () => parseMetricsCsv("method,dataset,auroc,fpr95,aupr_in,aupr_out\nmsp,sun,1,2,3\n"),
    /not valid CSV \(Invalid Record Length: expect 6, got 5 on line 2\)/,
  );
  assert.throws(() => parseMetricsCsv('method,"dataset\n'), DataError);
});

Deno.test("metricsCsvOrder: first-appearance order of any CSV with method (and dataset) columns", () => {
  const long = "method,dataset,seed,auroc\nknn,far,0,90\nknn,near,0,80\nmsp,far,1,70\nmsp,near\n";
  assert.deepEqual(metricsCsvOrder(long), { methods: ["knn", "msp"], datasets: ["far", "near"] });
  assert.deepEqual(metricsCsvOrder("method,seconds\nmos,1\nmsp,2\n"), {
    methods: ["mos", "msp"],
    datasets: [],
  });
  assert.deepEqual(metricsCsvOrder('method,dataset\n"a,b",x\n'), {
    methods: ["a,b"],
    datasets: ["x"],
  });
  assert.equal(metricsCsvOrder("dataset,auroc\nsun,1\n"), null);
  assert.equal(metricsCsvOrder(""), null);
  assert.equal(metricsCsvOrder('method,"dataset\n'), null);
});
