/* Aurix WhatsApp widget: placeholder, replaced by the widget script. */
