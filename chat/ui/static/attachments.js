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
    const edge = Number(here.dataset.scaleEdge) || 1568;
    await Promise.all([...files].map(async (picked) => {
      const key = `u${Date.now()}-${uploads++}`;
      const name = picked.name || 'pasted file';
      let file = picked;
      if (file.size > maxFile && isImage(file)) {  // too large to upload: scaled here instead of refused
        file = await scaled(file, name, edge).catch((error) => {
          emit('attach-failed', { key, error: `${name} has ${megabytes(picked.size)} and could not be scaled down `
            + `here (${error.message}). ${here.dataset.limits}` });
          return null;
        });
        if (!file) return;
      }
      if (file.size > maxFile) {  // refused here: a huge upload would only be cut off by the server
        emit('attach-failed', { key, error: `${name} has ${megabytes(file.size)}. ${here.dataset.limits}` });
        return;
      }
      emit('attach-start', { key, name: file.name || name, size: file.size });
      try {
        let [response, answer] = await send(room, file, file.name || name);
        if (response.status === 413 && isImage(file) && file === picked) {  // too many pixels for the server
          file = await scaled(file, name, edge);
          [response, answer] = await send(room, file, file.name);
        }
        if (response.ok && answer.attachment) emit('attach-done', { key, attachment: answer.attachment });
        else emit('attach-failed', { key, error: answer.error || `${name}: the upload failed (${response.status}).` });
      } catch (error) {
        emit('attach-failed', { key, error: `${name}: the upload failed (${error.message}). Check the connection.` });
      }
    }));
  }

  async function send(room, file, name) {
    const form = new FormData();
    form.append('file', file, name);
    const response = await fetch(`/api/rooms/${encodeURIComponent(room)}/files`,
      { method: 'POST', body: form, credentials: 'same-origin' });
    return [response, await response.json().catch(() => ({}))];
  }

  const isImage = (file) => /^image\/(png|jpeg|gif|webp)$/.test(file.type);

  // An image over the upload limit (its bytes, or pixels the server will not decode) becomes a JPEG of at most the
  // longest side Claude uses (files.API_EDGE): what a person attached is sent, not refused. One that fits goes as is.
  async function scaled(file, name, edge) {
    const bitmap = await createImageBitmap(file);
    const ratio = Math.min(1, edge / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * ratio));
    canvas.height = Math.max(1, Math.round(bitmap.height * ratio));
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';  // JPEG has no transparency: on white, as the image shows on a light page
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    if (!blob) throw new Error('the browser could not encode it');
    return new File([blob], `${name.replace(/\.[^.]*$/, '') || 'image'}.jpg`, { type: 'image/jpeg' });
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
