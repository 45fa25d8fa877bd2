/**
 * The rehype-sanitize schema of briefing content: GitHub's default, narrowed to the URL schemes of the
 * policy (`http`, `https`, `mailto`), with the class names the pipeline itself sets.
 *
 * Ids need no clobber prefix here: rehype-anchors has already prefixed every id with the briefing's
 * `c-<id>-`, which no template id uses.
 */
import { defaultSchema, type Options as SanitizeSchema } from 'rehype-sanitize';

const attributes = defaultSchema.attributes ?? {};

/** The sanitize schema applied as the last step of the content tree. */
export const sanitizeSchema: SanitizeSchema = {
  ...defaultSchema,
  clobber: [],
  clobberPrefix: '',
  protocols: { href: ['http', 'https', 'mailto'], src: [], cite: [], longDesc: [] },
  attributes: {
    ...attributes,
    '*': [...(attributes['*'] ?? []), 'id'],
    section: ['dataFootnotes', 'ariaLabelledBy', ['className', 'footnotes', 'unpacked', 'qa']],
    div: [...(attributes.div ?? []), ['className', 'qa-answer']],
    h3: [['className', 'qa-question']],
  },
  tagNames: [...(defaultSchema.tagNames ?? []), 'section'],
};
