/**
 * The rehype-sanitize schema of briefing content: GitHub's default, narrowed to the URL schemes of the
 * policy (`http`, `https`, `mailto`) and to images the pipeline inlined, with the class names the
 * pipeline itself sets.
 *
 * Ids need no clobber prefix here: rehype-anchors has already prefixed every id with the briefing's
 * `c-<id>-`, which no template id uses.
 */
import { defaultSchema, type Options as SanitizeSchema } from 'rehype-sanitize';

const attributes = defaultSchema.attributes ?? {};

/** The only image sources content may have: assets the pipeline itself read, checked and named. */
export const assetSourcePattern = /^assets\/[0-9a-f]{20}\.(?:png|jpg|webp|svg)$/;

/** The sanitize schema applied as the last step of the content tree. */
export const sanitizeSchema: SanitizeSchema = {
  ...defaultSchema,
  clobber: [],
  clobberPrefix: '',
  // An empty list would mean "any scheme" to hast-util-sanitize; image sources are pinned below instead.
  protocols: { href: ['http', 'https', 'mailto'], src: ['https'], cite: ['http', 'https'], longDesc: [] },
  attributes: {
    ...attributes,
    img: ['ariaDescribedBy', 'ariaLabel', 'ariaLabelledBy', ['src', assetSourcePattern]],
    '*': [...(attributes['*'] ?? []), 'id'],
    section: ['dataFootnotes', 'ariaLabelledBy', ['className', 'footnotes', 'unpacked', 'qa']],
    div: [...(attributes.div ?? []), ['className', 'qa-answer']],
    h3: [['className', 'qa-question']],
  },
  tagNames: [...(defaultSchema.tagNames ?? []), 'section'],
};
