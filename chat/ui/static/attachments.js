// Attach files to the message being written (chat/ui/attachments.py): the picker's hidden file input, files pasted
// into the composer and files dropped on the page are uploaded one by one to POST /api/rooms/{room}/files; the tray
// ([data-attach-tray]) hears how each one goes (attach-start, attach-done, attach-failed) and tells the server.
(() => {
  if (window.roomsAttach) return;
  let uploads = 0;

  const tray = () => document.querySelector('[data-attach-tray]');
  const emit = (name, detail) => tray()?.dispatchEvent(new CustomEvent(name, { detail }));
  const megabytes = (size) => `${(size / 1048576).toFixed(1)} MB`;

  async function upload(files) {
    const here = tray();
    if (!here || !files.length) return;
    const room = here.dataset.room;
    const maxFile = Number(here.dataset.maxFile);
    await Promise.all([...files].map(async (file) => {
      const key = `u${Date.now()}-${uploads++}`;
      const name = file.name || 'pasted file';
      if (file.size > maxFile) {  // refused here: a huge upload would only be cut off by the server
        emit('attach-failed', { key, error: `${name} has ${megabytes(file.size)}. ${here.dataset.limits}` });
        return;
      }
      emit('attach-start', { key, name, size: file.size });
      const form = new FormData();
      form.append('file', file, name);
      try {
        const response = await fetch(`/api/rooms/${encodeURIComponent(room)}/files`,
          { method: 'POST', body: form, credentials: 'same-origin' });
        const answer = await response.json().catch(() => ({}));
        if (response.ok && answer.attachment) emit('attach-done', { key, attachment: answer.attachment });
        else emit('attach-failed', { key, error: answer.error || `${name}: the upload failed (${response.status}).` });
      } catch (error) {
        emit('attach-failed', { key, error: `${name}: the upload failed (${error.message}). Check the connection.` });
      }
    }));
  }
  window.roomsAttach = upload;

  document.addEventListener('change', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.dataset.testid !== 'attach-input') return;
    upload([...input.files]);
    input.value = '';  // the same file can be picked again
  });

  // A pasted screenshot or copied file: attach it. Pasted text still goes into the box (a copied web page brings both).
  document.addEventListener('paste', (event) => {
    if (!tray() || !event.target.closest?.('[data-testid=composer]')) return;
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    if (!event.clipboardData.types.includes('text/plain')) event.preventDefault();
    upload(files);
  });

  // Files dropped anywhere on a page with a composer are attached (a drop elsewhere would open the file instead of
  // the room); the composer bar shows where they go while they are dragged.
  const draggingFiles = (event) => tray() && [...(event.dataTransfer?.types || [])].includes('Files');
  let depth = 0;
  const highlight = (on) => document.querySelector('.composer-bar, [data-attach-tray]')
    ?.classList.toggle('attach-over', on);
  document.addEventListener('dragenter', (event) => {
    if (!draggingFiles(event)) return;
    depth += 1;
    highlight(true);
  });
  document.addEventListener('dragleave', (event) => {
    if (!draggingFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) highlight(false);
  });
  document.addEventListener('dragover', (event) => {
    if (!draggingFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (event) => {
    if (!draggingFiles(event)) return;
    event.preventDefault();
    depth = 0;
    highlight(false);
    upload([...event.dataTransfer.files]);
  });
})();
