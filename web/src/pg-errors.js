// The playground's errors: which control a library message is about, and showing a message both in the
// output (announced) and under that control (aria-invalid, aria-errormessage, aria-describedby).
import { h } from './util.js';

export function controlFor(message, c, applies) {
  const m = message.toLowerCase();
  if (m.includes('num_heads') || m.includes('heads')) return applies('numHeads') ? c.heads : c.dOut;
  if (m.includes('d_out')) return c.dOut;
  if (m.includes('dropout')) return c.dropout;
  if (m.includes('seed')) return c.seed;
  if (/state_dict|parameter|w_query|w_key|w_value|out_proj/.test(m)) return c.sdJson;
  if (m.includes('token') || m.includes('d_in') || m.includes(' x ')) return c.modeJson.checked ? c.xJson : c.dIn;
  return null;
}

export function showError(form, error, message, control) {
  form.querySelectorAll('[aria-invalid]').forEach((el) => {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-errormessage');
    const rest = (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.endsWith('-error'));
    if (rest.length) el.setAttribute('aria-describedby', rest.join(' '));
    else el.removeAttribute('aria-describedby');
  });
  form.querySelectorAll('.field-error').forEach((el) => el.remove());
  error.hidden = !message;
  error.textContent = message || '';
  if (!message || !control) return;
  // The message also sits right under the control it is about.
  const note = h('p', { class: 'field-error', id: `${control.id}-error` }, message);
  (control.closest('.field') || control.parentElement).append(note);
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-errormessage', note.id);
  const described = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  control.setAttribute('aria-describedby', [...described, note.id].join(' '));
}
