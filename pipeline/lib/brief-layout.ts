/**
 * The geometry of the one-page brief, shared by its page style (`templates/print/brief-page.css.liquid`)
 * and the fitting in stage 5, so what is measured is what is printed.
 */
import type { Paper } from './model.ts';

/** Page margins of the brief, in millimetres. */
export const briefMarginsMm = { top: 15, right: 14, bottom: 14, left: 14 } as const;

/** Paper sizes in millimetres. */
export const paperSizesMm: Record<Paper, { width: number; height: number }> = {
  A4: { width: 210, height: 297 },
  Letter: { width: 215.9, height: 279.4 },
};

/** Steps of the fit ladder, `fit-0` (most generous) … `fit-10` (tightest), in `templates/styles/brief.css`. */
export const briefFitLevels = 11;

/** The smallest text the ladder ever sets, in points. */
export const minimumBriefTextPt = 8.5;

const pxPerMm = 96 / 25.4;

/** The text block of the brief's page in CSS pixels. */
export function briefTextBlockPx(paper: Paper): { width: number; height: number } {
  const size = paperSizesMm[paper];
  return {
    width: (size.width - briefMarginsMm.left - briefMarginsMm.right) * pxPerMm,
    height: (size.height - briefMarginsMm.top - briefMarginsMm.bottom) * pxPerMm,
  };
}
