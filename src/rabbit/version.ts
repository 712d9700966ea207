/** Strips the Debian epoch and revision: `1:3.10.8-1.1+deb12u1` -> `3.10.8`. */
export function upstreamVersion(packageVersion: string): string {
  return packageVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** Compares dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+~-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.+~-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
